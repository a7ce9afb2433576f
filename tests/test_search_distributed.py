"""`torchrun --nproc-per-node 2 ... snasnet search`: two CPU processes (gloo) share the candidates, and rank 0
writes one run directory whose ranking equals a single process's."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from snasnet.core.runs import EventReader

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # torchrun's own default for several processes


def search(run_dir, *args: str, processes: int = 1) -> subprocess.CompletedProcess:
    launcher = (
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}"]
        if processes > 1
        else [sys.executable]
    )
    command = [*launcher, "-m", "snasnet_cli", "search", "--dataset", "digits", "--batch-size", "32", "--seed", "3"]
    command += ["--device", "cpu", "--run-dir", str(run_dir), "--quiet", *args]
    return subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=600)


def scored(run_dir) -> list[dict]:
    return [e for e in EventReader(run_dir / "events.jsonl").read_new() if e["event"] == "candidate_scored"]


@pytest.mark.parametrize(
    "strategy",
    [
        ["--strategy", "random"],
        ["--strategy", "evolution", "--population", "2", "--tournament", "2"],
        ["--strategy", "evolution", "--population", "2", "--tournament", "2", "--objectives", "sahd,sops"],
    ],
)
def test_two_processes_share_the_candidates_and_rank_like_one(tmp_path, strategy):
    one = search(tmp_path / "one", "-n", "7", *strategy)
    assert one.returncode == 0, one.stderr
    two = search(tmp_path / "two", "-n", "7", *strategy, processes=2)
    assert two.returncode == 0, two.stderr
    assert two.stdout.count("top 7 of 7 candidates") == 1, "only rank 0 reports"

    fields = ("index", "arch", "score", "firing_rates", "sops", "macs", "params")
    alone, shared = scored(tmp_path / "one"), scored(tmp_path / "two")
    assert [[e[f] for f in fields] for e in shared] == [[e[f] for f in fields] for e in alone]
    assert {e["worker"] for e in shared} == {0, 1} and {e["worker"] for e in alone} == {0}
    best = [json.loads((tmp_path / d / "best_arch.json").read_text()) for d in ("one", "two")]
    assert best[0] == best[1]  # with several objectives: the same front and chosen cell
    if "--objectives" in strategy:
        assert len(best[0]["front"]) >= 2
        assert (tmp_path / "one" / "pareto.csv").read_text() == (tmp_path / "two" / "pareto.csv").read_text()
    started = EventReader(tmp_path / "two" / "events.jsonl").read_new()[0]
    assert started["world_size"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # rank 1 wrote nothing


# Each rank's clock a second apart (ranks start at different seconds), and Ctrl-C while the first
# candidates are scored: what each rank then prints is what a user copies to resume. Each rank also says
# which run directory its search uses.
LAUNCHER = """
import os
from datetime import datetime

import snasnet.core.runs
import snasnet.search.job


class RankClock(datetime):
    @classmethod
    def now(cls, tz=None):
        return datetime(2026, 1, 1, 12, 0, int(os.environ["RANK"]))


class ReportingRunDir(snasnet.search.job.RunDir):
    def __init__(self, path, enabled=True):
        super().__init__(path, enabled)
        print(f"rank {os.environ['RANK']} runs in {self.path}", flush=True)


def interrupted(*args, **kwargs):
    raise KeyboardInterrupt


snasnet.core.runs.datetime = RankClock
snasnet.search.job.RunDir = ReportingRunDir
snasnet.search.job.score_candidate = interrupted

from snasnet_cli.app import main

main()
"""


def test_every_rank_reports_rank_0s_default_run_directory(tmp_path):
    (tmp_path / "launch.py").write_text(LAUNCHER)
    launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    args = ["search", "--dataset", "digits", "--batch-size", "32", "--seed", "3", "--device", "cpu", "-n", "4"]
    stopped = subprocess.run(
        [*launcher, "launch.py", *args, "--quiet"], capture_output=True, text=True, env=ENV, timeout=600, cwd=tmp_path
    )
    output = stopped.stdout + stopped.stderr
    assert sorted(set(re.findall(r"rank (\d) runs in (\S+)", output))) == [
        ("0", "runs/search-20260101-120000"),
        ("1", "runs/search-20260101-120000"),
    ], output
    reported = re.findall(r"snasnet search --resume (\S+)", output)
    assert reported == ["runs/search-20260101-120000"], stopped.stderr
    assert [p.name for p in (tmp_path / "runs").iterdir()] == ["search-20260101-120000"]

    resumed = subprocess.run(
        [*launcher, "-m", "snasnet_cli", "search", "--resume", reported[0], "--quiet"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=600,
        cwd=tmp_path,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert "top 4 of 4 candidates" in resumed.stdout
    assert [e["index"] for e in scored(tmp_path / reported[0])] == [0, 1, 2, 3]

"""`snasnet search` as a user (or the dashboard) runs it: output, mistakes, interruptions and resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from snasnet.core.runs import EventReader
from snasnet_cli.app import main

pytestmark = pytest.mark.usefixtures("one_thread")

# One thread per process: the test machine is shared, and a small network gains nothing from more.
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}
SMALL_SEARCH = ["search", "--dataset", "digits", "--batch-size", "32", "--seed", "3", "--device", "cpu"]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    """The real entry point in this process (errors included): exit code, stdout, stderr."""
    try:
        main(list(args))
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "snasnet_cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV
    )


def scored(run_dir: Path) -> list[dict]:
    return [e for e in EventReader(run_dir / "events.jsonl").read_new() if e["event"] == "candidate_scored"]


def wait_for_scored(proc: subprocess.Popen, run_dir: Path, count: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while len(scored(run_dir)) < count:
        assert proc.poll() is None, f"the search ended before {count} candidates: {proc.communicate()}"
        assert time.monotonic() < deadline, "the search scored too slowly"
        time.sleep(0.02)


def resume(run_dir: Path) -> None:
    resumed = subprocess.run(
        [sys.executable, "-m", "snasnet_cli", "search", "--resume", str(run_dir), "--quiet"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stderr


def final_ranking(run_dir: Path) -> list[tuple]:
    finished = [e for e in EventReader(run_dir / "events.jsonl").read_new() if e["event"] == "search_finished"]
    return [(t["index"], t["arch"], t["score"]) for t in finished[-1]["top"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dataset", "mnist"], "unknown dataset 'mnist': choose one of"),
        (["--celltype", "sideways"], "unknown cell type 'sideways': choose forward or backward"),
        (["--num-search", "0"], "--num-search must be at least 1 (got 0)"),
        (["--score", "nwot"], "unknown score 'nwot': choose one of sahd, sahd_v1, hamming"),
        (["--strategy", "grid"], "unknown strategy 'grid': choose one of random, exhaustive, evolution"),
        (["--repeat", "0"], "--repeat must be at least 1"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, args, message):
    code, out, err = run_cli(capsys, "search", "--run-dir", str(tmp_path / "run"), *args)
    assert code == 2
    assert err.splitlines() == [f"snasnet: error: {err.splitlines()[0][len('snasnet: error: ') :]}"]
    assert message in err
    assert not (tmp_path / "run").exists()


def test_search_prints_progress_and_the_top_k_table(capsys, tmp_path):
    run_dir = tmp_path / "run"
    code, out, err = run_cli(capsys, *SMALL_SEARCH, "-n", "3", "--top-k", "2", "--run-dir", str(run_dir))
    assert code == 0, err
    assert "top 2 of 3 candidates" in out and "best architecture:" in out
    best = json.loads((run_dir / "best_arch.json").read_text())
    table_rows = [line for line in out.splitlines() if "(backward)" in line]
    assert len(table_rows) == 2 and best["arch"] in table_rows[0]
    assert "3/3" in err and "cand/s" in err  # the progress bar
    code, out, err = run_cli(capsys, *SMALL_SEARCH, "-n", "2", "--quiet", "--run-dir", str(tmp_path / "quiet"))
    assert code == 0 and err == ""


def test_the_former_score_name_warns_in_one_line_and_the_run_records_the_new_name(capsys, tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    code, _, err = run_cli(
        capsys, *SMALL_SEARCH, "-n", "2", "--quiet", "--score", "sahd_original", "--run-dir", str(old)
    )
    assert code == 0, err
    assert err.splitlines() == [
        "snasnet: warning: score 'sahd_original' is now called 'sahd_v1' (the original's first-release kernel): "
        "use sahd_v1"
    ]
    assert json.loads((old / "run.json").read_text())["config"]["score"] == "sahd_v1"
    assert EventReader(old / "events.jsonl").read_new()[0]["score"] == "sahd_v1"
    assert json.loads((old / "best_arch.json").read_text())["score_name"] == "sahd_v1"
    code, _, err = run_cli(capsys, *SMALL_SEARCH, "-n", "2", "--quiet", "--score", "sahd_v1", "--run-dir", str(new))
    assert code == 0 and err == ""
    assert [e["score"] for e in scored(old)] == [e["score"] for e in scored(new)]
    # a resume given the former name keeps the run's score (it is the same one)
    code, _, err = run_cli(capsys, "search", "--resume", str(old), "-n", "3", "--quiet", "--score", "sahd_original")
    assert code == 0 and err.count("snasnet: warning:") == 1, err
    assert len(scored(old)) == 3


def test_a_search_builds_its_strategy_once(capsys, tmp_path, monkeypatch):
    # building one may enumerate the space (seconds for the backward one): checking the settings must not
    import snasnet.search.job

    built = []
    real = snasnet.search.job.make_strategy
    monkeypatch.setattr(snasnet.search.job, "make_strategy", lambda *a, **k: built.append(a) or real(*a, **k))
    code, _, err = run_cli(capsys, *SMALL_SEARCH, "-n", "2", "--quiet", "--run-dir", str(tmp_path / "run"))
    assert code == 0, err
    assert len(built) == 1


def test_resume_refuses_changed_settings_in_one_line(capsys, tmp_path):
    run_dir = tmp_path / "run"
    assert run_cli(capsys, *SMALL_SEARCH, "-n", "1", "--quiet", "--run-dir", str(run_dir))[0] == 0
    code, _, err = run_cli(capsys, "search", "--resume", str(run_dir), "--seed", "4")
    assert code == 2 and len(err.splitlines()) == 1 and "searched with seed=3" in err
    code, _, err = run_cli(capsys, "search", "--resume", str(tmp_path / "none"))
    assert code == 2 and len(err.splitlines()) == 1 and "holds no run" in err


def test_a_search_killed_mid_way_resumes_without_rescoring_and_ranks_like_an_uninterrupted_one(tmp_path):
    args = [*SMALL_SEARCH, "-n", "12", "--top-k", "12", "--quiet"]
    whole = start(*args, "--run-dir", str(tmp_path / "whole"))

    killed = tmp_path / "killed"
    proc = start(*args, "--run-dir", str(killed))
    wait_for_scored(proc, killed, 4)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(scored(killed))
    assert 4 <= done < 12

    resume(killed)
    assert whole.wait(timeout=300) == 0
    indices = [e["index"] for e in scored(killed)]
    assert indices == list(range(12)), "every candidate scored exactly once"
    assert final_ranking(killed) == final_ranking(tmp_path / "whole")
    info = json.loads((killed / "run.json").read_text())
    assert info["status"] == "ok" and len(info["resumed"]) == 1


def test_ctrl_c_ends_the_search_as_cancelled_and_it_can_be_resumed(tmp_path):
    run_dir = tmp_path / "run"
    proc = start(*SMALL_SEARCH, "-n", "12", "--quiet", "--run-dir", str(run_dir))
    wait_for_scored(proc, run_dir, 2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert f"snasnet search --resume {run_dir}" in err and "Traceback" not in err
    last = EventReader(run_dir / "events.jsonl").read_new()[-1]
    assert last["event"] == "run_finished" and last["status"] == "cancelled"
    assert json.loads((run_dir / "run.json").read_text())["status"] == "cancelled"

    done = len(scored(run_dir))
    resume(run_dir)
    assert [e["index"] for e in scored(run_dir)] == list(range(12)) and done < 12

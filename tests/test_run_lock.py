"""One writer per run directory (issue 13, item 3): a second job on a directory that a live process is writing
is refused with one line naming that process, before it writes anything; the lock goes with its process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from snasnet.core.errors import RunInUse
from snasnet.core.runs import RunDir
from tests.cli_process import DIGITS, events, start, wait_for_event


def test_a_second_writer_is_refused_with_the_owners_pid(tmp_path):
    first = RunDir.create("search", {}, tmp_path / "run")
    first.emit("run_started")
    with pytest.raises(RunInUse, match=f"in use by process {os.getpid()}"):
        RunDir.create("search", {}, tmp_path / "run", resume=True)
    assert [e["event"] for e in first.events()] == ["run_started"]  # the refused one wrote nothing
    assert json.loads((tmp_path / "run" / "run.json").read_text()).get("resumed") is None
    first.close()  # a job's end gives the directory back
    RunDir.create("search", {}, tmp_path / "run", resume=True).close()


def test_the_lock_of_a_process_that_died_does_not_count(tmp_path):
    run_dir = tmp_path / "run"
    code = (
        "import os, sys; from snasnet.core.runs import RunDir; "
        f"RunDir.create('train', {{}}, {str(run_dir)!r}); os.kill(os.getpid(), 9)"
    )
    subprocess.run([sys.executable, "-c", code], check=False)
    assert (run_dir / ".lock").read_text().split()[0].isdigit()  # the file is left, naming a dead process
    RunDir.create("train", {}, run_dir, resume=True).close()


def test_a_new_run_in_a_directory_with_only_a_lock_file_is_not_refused(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / ".lock").write_text("12345 elsewhere\n")
    RunDir.create("train", {}, tmp_path / "run").close()


def test_only_rank_0_locks(tmp_path):
    RunDir.create("train", {}, tmp_path / "run").emit("run_started")
    other = RunDir.create("train", {}, tmp_path / "run", enabled=False, resume=True)
    assert not other.enabled


@pytest.mark.slow
@pytest.mark.parametrize("job", ["train", "search"])
def test_resume_of_a_running_job_is_refused_and_the_first_goes_on(tmp_path, job):
    run_dir = tmp_path / "run"
    if job == "train":
        args = ["train", *DIGITS, "--batch-size", "128", "--epochs", "5", "--workers", "0"]
        progress = "train_step"
    else:
        args = ["search", "--dataset", "digits", "--num-search", "300", "--celltype", "forward", "--timesteps", "2"]
        progress = "candidate_scored"
    first = start(*args, "-q", "--run-dir", str(run_dir))
    wait_for_event(first, run_dir, progress)
    second = subprocess.run(
        [sys.executable, "-m", "snasnet_cli", job, "--resume", str(run_dir), "-q"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert first.poll() is None, "the first job should still be running"
    assert second.returncode != 0
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"in use by process {first.pid}" in lines[0], second.stderr
    os.killpg(first.pid, signal.SIGTERM)
    first.communicate(timeout=120)
    assert [e["event"] for e in events(run_dir)].count("run_started") == 1
    assert json.loads((run_dir / "run.json").read_text())["status"] == "cancelled"

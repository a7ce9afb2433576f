"""Resume repairs what a kill left (issue 24, items 2, 3 and 6): a ``best.pt`` that a ``kill -9`` or a full disk
kept from being written after ``last.pt``, a run that trained its last epoch but never recorded its end, a run
killed during its first save (a temporary file and no ``last.pt``), and a second resume racing the end of the
first run: it takes the run's lock before it reads anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from test_train import SMALL  # seconds on a CPU: 200 random 8x8 images through the digits network

import snasnet.train.job as job_module
from snasnet.core.errors import RunInUse
from snasnet.core.interrupts import GracefulStop
from snasnet.core.runs import EventReader, RunDir
from snasnet.train.job import fit, resume, train_config
from tests.cli_process import DIGITS


def events(run_dir: Path) -> list[dict]:
    return EventReader(run_dir / "events.jsonl").read_new()


def status(run_dir: Path) -> str:
    return json.loads((run_dir / "run.json").read_text())["status"]


def checkpoint(path: Path) -> dict:
    return torch.load(path, weights_only=True)


def train_killed(run_dir: Path, when: str, *args: str) -> subprocess.CompletedProcess:
    """``snasnet train`` on digits that kills itself (SIGKILL, as ``kill -9``) at ``when``: ``best`` (after last.pt
    is saved, before best.pt) or ``first-save`` (in the middle of writing the first last.pt)."""
    code = f"""
import os, signal, sys, torch
import snasnet.train.trainer as trainer
from snasnet_cli.app import main
save, torch_save = trainer.Trainer.save, torch.save
def kill_before_best(self, run, kind):
    if kind == "best":
        os.kill(os.getpid(), signal.SIGKILL)
    save(self, run, kind)
def kill_mid_write(obj, f):
    f.write(b"half a checkpoint")
    f.flush()
    os.kill(os.getpid(), signal.SIGKILL)
if {when!r} == "best":
    trainer.Trainer.save = kill_before_best
else:
    torch.save = kill_mid_write
main(sys.argv[1:])
"""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    argv = ["train", *DIGITS, "--batch-size", "128", "--workers", "0", "-q", "--run-dir", str(run_dir), *args]
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, env=env)


def snasnet(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "snasnet_cli", *args], capture_output=True, text=True, env=env)


def test_a_kill_between_last_pt_and_best_pt_is_repaired_by_resume_and_the_run_closed(tmp_path):
    run_dir = tmp_path / "run"
    killed = train_killed(run_dir, "best", "--epochs", "1")
    assert killed.returncode == -9, killed.stderr
    last = checkpoint(run_dir / "checkpoints" / "last.pt")
    assert (last["epoch"], last["best_epoch"]) == (1, 1) and not (run_dir / "checkpoints" / "best.pt").exists()
    assert status(run_dir) == "running"

    done = snasnet("train", "--resume", str(run_dir), "-q")
    assert done.returncode == 0, done.stderr
    best = checkpoint(run_dir / "checkpoints" / "best.pt")
    assert best["epoch"] == 1 and best["best_acc"] == last["best_acc"]
    for key, tensor in last["state_dict"].items():
        assert torch.equal(best["state_dict"][key], tensor), key
    assert status(run_dir) == "ok"
    saved = [e for e in events(run_dir) if e["event"] == "checkpoint_saved" and e["kind"] == "best"]
    assert saved and saved[-1]["repaired"] is True
    assert events(run_dir)[-1]["event"] == "run_finished" and events(run_dir)[-1]["status"] == "ok"
    # and then there is nothing left to do
    again = snasnet("train", "--resume", str(run_dir), "-q")
    assert again.returncode == 2 and "has finished all 1 epochs: there is nothing to resume" in again.stderr


def test_a_run_killed_during_its_first_save_is_started_over_by_resume(tmp_path):
    run_dir = tmp_path / "run"
    killed = train_killed(run_dir, "first-save", "--epochs", "1")
    assert killed.returncode == -9, killed.stderr
    temporaries = [p.name for p in (run_dir / "checkpoints").iterdir()]
    assert len(temporaries) == 1 and temporaries[0].startswith(".last.pt.") and temporaries[0].endswith(".tmp.pt")

    done = snasnet("train", "--resume", str(run_dir), "-q")
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (run_dir / "checkpoints").iterdir()) == ["best.pt", "last.pt"]
    assert checkpoint(run_dir / "checkpoints" / "last.pt")["epoch"] == 1
    assert status(run_dir) == "ok"


def test_a_second_resume_takes_the_lock_before_it_reads_the_run(tmp_path, monkeypatch):
    """The first run holds the directory while the second resume starts; if the second read last.pt before
    locking, the first could end meanwhile and the second retrain over the finished run."""
    run_dir = tmp_path / "run"
    stop = GracefulStop()

    def stop_after_epoch_1(event: dict) -> None:
        if event["event"] == "checkpoint_saved" and event["epoch"] == 1:
            stop.request()

    with pytest.raises(KeyboardInterrupt):
        fit(train_config(**SMALL), run_dir, listeners=(stop_after_epoch_1,), stop=stop)
    first = RunDir.create("train", {}, run_dir, resume=True)  # the first run, still writing (this process's lock)
    reads = []
    read = job_module.read_checkpoint

    def read_then_first_run_ends(path, *args, **kwargs):
        reads.append(path)
        data = read(path, *args, **kwargs)
        first.set_status("ok")  # the first run ends while the second starts
        first.close()
        return data

    monkeypatch.setattr(job_module, "read_checkpoint", read_then_first_run_ends)
    with pytest.raises(RunInUse, match=f"in use by process {os.getpid()}"):
        resume(run_dir)
    assert reads == [], "last.pt was read before the run's lock was taken"
    first.close()
    assert [e["event"] for e in events(run_dir)].count("run_started") == 1


@pytest.mark.slow
def test_a_full_disk_at_best_pt_is_repaired_by_resume_once_there_is_room(tmp_path):
    mount = tmp_path / "tmpfs"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.decode().strip() or 'mount failed'})")
    try:
        small = mount / "run"  # room for last.pt (1.5 MB), not for best.pt beside it
        done = snasnet("train", *DIGITS, "--batch-size", "128", "--epochs", "1", "--workers", "0", "-q",
                       "--run-dir", str(small))  # fmt: skip
        assert done.returncode == 2 and "cannot write" in done.stderr and "best.pt" in done.stderr, done.stderr
        subprocess.run(["cp", "-r", str(small), str(tmp_path / "run")], check=True)  # to a bigger disk
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)
    run_dir = tmp_path / "run"
    assert status(run_dir) == "failed" and not (run_dir / "checkpoints" / "best.pt").exists()
    done = snasnet("train", "--resume", str(run_dir), "-q")
    assert done.returncode == 0, done.stderr
    assert checkpoint(run_dir / "checkpoints" / "best.pt")["epoch"] == 1 and status(run_dir) == "ok"

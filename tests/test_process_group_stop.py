"""A stop request sent to the whole process group (what `timeout`, Slurm, systemd and Kubernetes do) ends a
job as ``cancelled`` with a checkpoint to resume, as a signal to the main process alone does: the DataLoader's
workers ignore it and are shut down by the main process (issue 13, item 1)."""

from __future__ import annotations

import json
import multiprocessing
import os
import signal

import pytest

from snasnet.data import get_dataset
from snasnet.evaluate import evaluate
from snasnet.interrupts import ignore_stop_signals
from snasnet.model import build_model
from snasnet.train import fit, train_config
from tests.cli_process import DIGITS, start, wait_for_event


def _signal_workers(sig: int = signal.SIGTERM) -> int:
    """Send ``sig`` to this process's DataLoader workers, as a signal to the process group reaches them."""
    workers = multiprocessing.active_children()
    for worker in workers:
        os.kill(worker.pid, sig)
    return len(workers)


def test_training_goes_on_when_its_loader_workers_get_the_groups_sigterm(tmp_path):
    signalled = []

    def on_event(event: dict) -> None:
        if event["event"] == "train_step" and not signalled:
            signalled.append(_signal_workers())

    config = train_config(
        "digits", arch="0200 0020 0002 0000", celltype="forward", timesteps=2, batch_size=128, epochs=1, workers=2
    )
    result = fit(config, tmp_path / "run", listeners=(on_event,))
    assert signalled == [2]  # both workers were running when they were signalled
    assert result.epochs == 1 and result.best_acc is not None


def test_evaluation_goes_on_when_its_loader_workers_get_the_groups_sigterm():
    bundle = get_dataset("digits")
    model = build_model("digits", "0200 0020 0002 0000", celltype="forward", timesteps=2)
    signalled = []

    def on_batch(done: int, total: int) -> None:
        if not signalled:
            signalled.append(_signal_workers())

    result = evaluate(model, bundle.test, batch_size=64, workers=2, on_batch=on_batch)
    assert signalled == [2]
    assert result.images == len(bundle.test)


def test_a_worker_ignores_sigint_and_sigterm_and_keeps_the_rest():
    before = signal.getsignal(signal.SIGUSR1)
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        ignore_stop_signals(0)
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is signal.SIG_IGN
        assert signal.getsignal(signal.SIGUSR1) is before
    finally:
        for sig, handler in saved.items():
            signal.signal(sig, handler)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_process_group_cancels_training_resumably(tmp_path, sig):
    run_dir = tmp_path / "run"
    # --workers 2: the training and validation loaders start worker processes, which the signal reaches too
    job = start(
        "train", *DIGITS, "--batch-size", "128", "--epochs", "2", "--workers", "2", "-q", "--run-dir", str(run_dir)
    )
    wait_for_event(job, run_dir, "train_step")
    os.killpg(job.pid, sig)
    out, err = job.communicate(timeout=120)
    assert job.returncode == 130, f"exit {job.returncode}\n{out}\n{err}"
    assert "Traceback" not in err, err
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "cancelled", info["error"]
    assert (run_dir / "checkpoints" / "last.pt").is_file()

    again = start("train", "--resume", str(run_dir), "-q")
    out, err = again.communicate(timeout=300)
    assert again.returncode == 0, f"exit {again.returncode}\n{out}\n{err}"
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "ok"
    epochs = [
        json.loads(line)["epoch"]
        for line in (run_dir / "events.jsonl").read_text().splitlines()
        if '"epoch_finished"' in line
    ]
    assert epochs == [1, 2]

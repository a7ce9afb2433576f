"""Non-finite numbers in training (issue 13, item 4): NaN and infinite hyperparameters are refused; a loss or
weights that become NaN or infinite stop the run with one line that names where, and the last good checkpoint
is kept as it was."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
import torch

import snasnet.train.trainer as trainer_module
from snasnet.core.errors import ConfigError, Diverged
from snasnet.network.checkpoint import read_checkpoint
from snasnet.train.job import fit, train_config
from tests.cli_process import DIGITS

CELL = {"arch": "0200 0020 0002 0000", "celltype": "forward", "timesteps": 2, "batch_size": 128, "workers": 0}


@pytest.mark.parametrize("name", ["lr", "momentum", "weight_decay"])
@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_a_non_finite_hyperparameter_is_refused(name, value):
    with pytest.raises(ConfigError, match=f"{name} must be a finite number"):
        train_config("digits", optimizer="sgd", **{name: value})


def test_the_cli_refuses_lr_inf_in_one_line(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "snasnet_cli", "train", *DIGITS, "--lr", "inf", "--run-dir", str(tmp_path / "r")],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == "snasnet: error: lr must be a finite number (got inf)"
    assert not (tmp_path / "r").exists()


def test_a_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tmp_path, monkeypatch):
    calls, steps = [], []  # steps: the run's steps per epoch (the training split less the held-out validation)

    class PoisonedF:  # the loss of epoch 2's third step is NaN, as an overflow would make it
        def __getattr__(self, name):
            return getattr(torch.nn.functional, name)

        @staticmethod
        def cross_entropy(scores, labels):
            calls.append(1)
            loss = torch.nn.functional.cross_entropy(scores, labels)
            return loss * math.nan if len(calls) == steps[0] + 3 else loss

    def on_start(event: dict) -> None:
        if event["event"] == "run_started":
            steps.append(event["steps_per_epoch"])

    monkeypatch.setattr(trainer_module, "F", PoisonedF())
    run_dir = tmp_path / "run"
    with pytest.raises(Diverged) as caught:
        fit(train_config("digits", epochs=3, **CELL), run_dir, listeners=(on_start,))
    last = run_dir / "checkpoints" / "last.pt"
    assert str(caught.value) == (
        f"loss became nan at epoch 2 step 3; last good checkpoint: {last} (a lower learning rate may help)"
    )
    state = read_checkpoint(last)
    assert (state["epoch"], state["step"]) == (1, 0)  # epoch 1's, not overwritten
    assert all(torch.isfinite(t).all() for t in state["state_dict"].values())
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and info["error"] == str(caught.value)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    assert [e["epoch"] for e in events if e["event"] == "epoch_finished"] == [1]


def test_weights_that_overflow_fail_the_run_also_when_quiet(tmp_path):
    run_dir = tmp_path / "run"
    done = subprocess.run(
        [sys.executable, "-m", "snasnet_cli", "train", *DIGITS, "--batch-size", "128", "--epochs", "2"]
        + ["--optimizer", "sgd", "--lr", "1e30", "--workers", "0", "-q", "--run-dir", str(run_dir)],
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        "snasnet: error: weights became non-finite in epoch 1; no checkpoint was written before it "
        "(a lower learning rate may help)"
    ]
    assert json.loads((run_dir / "run.json").read_text())["status"] == "failed"
    assert not (run_dir / "checkpoints" / "last.pt").exists()

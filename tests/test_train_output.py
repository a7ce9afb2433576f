"""What `snasnet train` prints: the bar on stderr, the lines that stay (the run, each epoch, the summary) on
stdout in the order they happened, also when stdout is a file and stderr a terminal (`snasnet train > log`)."""

from __future__ import annotations

import io
import sys
from types import SimpleNamespace

import pytest

from snasnet_cli.train_progress import epoch_line


class Terminal(io.StringIO):
    """A stderr that says it is a terminal, as in `snasnet train ... > log` run from a shell."""

    def isatty(self) -> bool:
        return True


def epoch(n: int, **changes: object) -> dict:
    return {"event": "epoch_finished", "epoch": n, "epochs": 2, "train_loss": 1.0 / n, "train_acc": 0.5,
            "val_loss": 1.1 / n, "val_acc": 0.6, "val_top5": 0.9, "lr": 0.01, "total_spikes_per_image": 100.0,
            "images_per_s": 50.0, "seconds": 1.0, **changes}  # fmt: skip


def fake_fit(config, path, listeners=()):
    """The events a two-epoch training sends its listeners."""
    events = [
        {
            "event": "run_started",
            "epochs": 2,
            "steps_per_epoch": 3,
            "device": "cpu",
            "train_precision": "fp32",
            "val_precision": "fp32",
        },
        {"event": "train_step", "epoch": 1, "step": 3, "steps": 3, "loss": 1.0, "acc": 0.5, "images_per_s": 50.0},
        epoch(1),
        {"event": "train_step", "epoch": 2, "step": 3, "steps": 3, "loss": 0.5, "acc": 0.5, "images_per_s": 50.0},
        epoch(2),
        {"event": "run_finished", "status": "ok", "error": None},
    ]
    for event in events:
        for listener in listeners:
            listener(event)
    return SimpleNamespace(best_acc=0.6, best_epoch=1, run_dir=path, precision="fp32", config=None, test=None)


@pytest.mark.parametrize("stderr_is_a_terminal", [False, True])
def test_redirected_stdout_holds_the_run_each_epoch_and_the_summary_in_order(
    stderr_is_a_terminal, tmp_path, monkeypatch, capsys
):
    from snasnet_cli.app import main

    monkeypatch.setattr("snasnet.train.job.fit", fake_fit)
    terminal = Terminal()
    if stderr_is_a_terminal:
        monkeypatch.setattr(sys, "stderr", terminal)
    with pytest.raises(SystemExit) as done:
        main(["train", "--dataset", "digits", "--epochs", "2", "--run-dir", str(tmp_path / "r")])
    assert done.value.code == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] + " " + line.split()[1] for line in lines] == [
        "training 0302",
        "epoch 1/2",
        "epoch 2/2",
        "best validation",
    ], lines
    assert lines[1] == epoch_line(epoch(1)) and lines[3].startswith("best validation accuracy 60.00% (epoch 1, fp32)")
    if stderr_is_a_terminal:
        assert "step 3/3" in terminal.getvalue()  # the bar went to the terminal, and only the bar
        assert "epoch 1/2  train loss" not in terminal.getvalue()


def test_an_epoch_line_says_which_figures_were_not_finite():
    line = epoch_line(epoch(1, train_loss=None, val_loss=None, nonfinite={"train_loss": "inf", "val_loss": "nan"}))
    assert "train loss inf acc 50.00%" in line and "val loss nan acc 60.00%" in line

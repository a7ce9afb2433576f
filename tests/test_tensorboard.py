"""TensorBoard files of a run, read back with TensorBoard's own ``EventAccumulator``: the tags a user looks for,
one point per step, also after a resume (``purge_step``), and the same from ``snasnet runs export-tb``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from helpers import run_cli
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from snasnet.core.interrupts import GracefulStop
from snasnet.core.runs import EVENTS, EventReader
from snasnet.core.tensorboard import TensorBoardLog, export_tensorboard
from snasnet.train.job import fit, resume, train_config

pytestmark = pytest.mark.usefixtures("one_thread")

# 200 random 8x8 images through the digits network: 7 steps of 32 per epoch (as tests/test_train.py's SMALL)
SMALL = {
    "dataset": "synthetic",
    "dataset_options": {"in_channels": 1, "image_size": 8, "num_classes": 10, "train_size": 200, "test_size": 50,
                        "preset": "digits"},
    "epochs": 2, "batch_size": 32, "seed": 3, "device": "cpu", "optimizer": "sgd", "lr": 0.05,
}  # fmt: skip
EPOCH_TAGS = ("epoch/train_loss", "epoch/train_accuracy", "epoch/val_loss", "epoch/val_accuracy", "epoch/val_top5",
              "epoch/lr", "epoch/mean_firing_rate", "epoch/spikes_per_image", "epoch/images_per_s")  # fmt: skip
STEP_TAGS = ("train/loss", "train/accuracy", "train/lr", "train/images_per_s")


def read_log(folder: Path) -> EventAccumulator:
    log = EventAccumulator(str(folder))
    log.Reload()
    return log


def steps(log: EventAccumulator, tag: str) -> list[int]:
    return [s.step for s in log.Scalars(tag)]


@pytest.fixture(scope="module")
def interrupted_training(tmp_path_factory) -> Path:
    """SMALL trained with a live TensorBoard log, stopped after epoch 1 and one step of epoch 2, then resumed."""
    run_dir = tmp_path_factory.mktemp("tb") / "run"
    stop = GracefulStop()

    def after_epoch_1(event: dict) -> None:
        if event["event"] == "checkpoint_saved" and event["epoch"] == 1:
            stop.request()

    with pytest.raises(KeyboardInterrupt):
        fit(train_config(**SMALL), run_dir, listeners=(TensorBoardLog(run_dir), after_epoch_1), stop=stop)
    resume(run_dir, listeners=(TensorBoardLog(run_dir),))
    return run_dir


def test_a_training_shows_loss_accuracy_rate_and_spikes_per_layer_once_per_step(interrupted_training):
    run_dir = interrupted_training
    log = read_log(run_dir / "tb")
    events = EventReader(run_dir / EVENTS).read_new()
    layers = list(next(e for e in events if e["event"] == "epoch_finished")["firing_rates"])
    assert len(layers) == 13  # the LIF layers of the cell 0302 0030 3003 0000 and the network around it
    tags = set(log.Tags()["scalars"])
    expected = {
        *EPOCH_TAGS,
        *STEP_TAGS,
        *(f"firing_rate/{n}" for n in layers),
        *(f"spikes_per_image/{n}" for n in layers),
    }
    assert tags == expected, tags ^ expected
    per_epoch = next(e for e in events if e["event"] == "run_started")["steps_per_epoch"]
    assert per_epoch > 2
    for tag in (*EPOCH_TAGS, f"firing_rate/{layers[0]}", f"spikes_per_image/{layers[-1]}"):
        # epochs 1 and 2 at the global step: once each, across the resume
        assert steps(log, tag) == [per_epoch, 2 * per_epoch], tag
    # every train_step event once, at (epoch - 1) * steps per epoch + step
    written = sorted({(e["epoch"] - 1) * per_epoch + e["step"] for e in events if e["event"] == "train_step"})
    assert steps(log, "train/loss") == written and {per_epoch, per_epoch + 1, 2 * per_epoch} <= set(written)
    epoch2 = [e for e in events if e["event"] == "epoch_finished"][1]
    assert log.Scalars("epoch/val_accuracy")[1].value == pytest.approx(epoch2["val_acc"])
    assert log.Scalars(f"firing_rate/{layers[0]}")[1].value == pytest.approx(epoch2["firing_rates"][layers[0]])


def test_export_tb_writes_what_the_live_log_holds(interrupted_training, tmp_path, capsys):
    code, _, err = run_cli(capsys, "runs", "export-tb", interrupted_training, "-o", tmp_path / "tb")
    assert code == 0, err
    live, exported = read_log(interrupted_training / "tb"), read_log(tmp_path / "tb")
    assert set(exported.Tags()["scalars"]) == set(live.Tags()["scalars"])
    for tag in live.Tags()["scalars"]:
        got = [(s.step, s.value) for s in exported.Scalars(tag)]
        assert got == [(s.step, s.value) for s in live.Scalars(tag)], tag


def emit(run_dir: Path, listener, event: dict) -> None:
    """As a job does: append the event to events.jsonl, then tell the listener."""
    event = {"v": 1, "ts": 1.0, **event}
    with open(run_dir / EVENTS, "a") as f:
        f.write(json.dumps(event) + "\n")
    listener(event)


def killed_and_resumed(run_dir: Path, make_listener) -> None:
    """A training of 2 epochs of 4 steps killed (kill -9: no run_finished) in epoch 2 after 3 steps, with
    last.pt saved after epoch 1: the resumed job repeats epoch 2's steps 1 to 3."""
    run_dir.mkdir()
    start = {"event": "run_started", "job": "train", "epochs": 2, "steps_per_epoch": 4}
    first = make_listener()
    emit(run_dir, first, {**start, "start_epoch": 0, "start_step": 0})
    for epoch, last_step in ((1, 4), (2, 3)):
        for step in range(1, last_step + 1):
            emit(run_dir, first, {"event": "train_step", "epoch": epoch, "step": step, "loss": 9.0, "lr": 0.1})
        if epoch == 1:
            emit(run_dir, first, {"event": "epoch_finished", "epoch": 1, "train_loss": 9.0, "val_acc": 0.1})
    second = make_listener()  # the resumed process
    emit(run_dir, second, {**start, "start_epoch": 1, "start_step": 0})
    for step in range(1, 5):
        emit(run_dir, second, {"event": "train_step", "epoch": 2, "step": step, "loss": 1.0, "lr": 0.01})
    emit(run_dir, second, {"event": "epoch_finished", "epoch": 2, "train_loss": 1.0, "val_acc": 0.9})
    emit(run_dir, second, {"event": "run_finished", "status": "ok"})


@pytest.mark.parametrize("logged_from_the_start", [True, False])
def test_a_resume_after_a_kill_replaces_the_repeated_steps(tmp_path, logged_from_the_start):
    """Logged from the start, the resumed process's steps replace the killed one's; logged from the resume on
    (``--tensorboard`` given to ``--resume`` only), the earlier events are written first: the same log."""
    run_dir = tmp_path / "run"
    processes = iter([logged_from_the_start, True])
    killed_and_resumed(run_dir, lambda: TensorBoardLog(run_dir) if next(processes) else (lambda event: None))
    log = read_log(run_dir / "tb")
    loss = [(s.step, s.value) for s in log.Scalars("train/loss")]
    assert loss == [(1, 9.0), (2, 9.0), (3, 9.0), (4, 9.0), (5, 1.0), (6, 1.0), (7, 1.0), (8, 1.0)]
    val = log.Scalars("epoch/val_accuracy")
    assert [s.step for s in val] == [4, 8] and [s.value for s in val] == pytest.approx([0.1, 0.9])  # float32
    out, count = export_tensorboard(run_dir, tmp_path / "exported")
    exported = read_log(out)
    assert [(s.step, s.value) for s in exported.Scalars("train/loss")] == loss
    assert count == 8 * 2 + 2 * 2  # loss and lr of each step kept, train loss and accuracy of each epoch


def test_a_search_shows_each_candidate_the_histogram_and_the_front(tmp_path, capsys):
    args = ["--dataset", "digits", "-n", "4", "--batch-size", "16", "--repeat", "1", "--timesteps", "2", "--seed", "1"]
    run_dir = tmp_path / "s"
    args += ["--objectives", "sahd,sops", "--device", "cpu", "--run-dir", run_dir, "--tensorboard", "-q"]
    code, _, err = run_cli(capsys, "search", *args)
    assert code == 0, err
    log = read_log(run_dir / "tb")
    tags = log.Tags()
    for tag in ("candidate/score", "candidate/sops", "candidate/macs", "candidate/params", "search/best_score"):
        assert steps(log, tag) == [0, 1, 2, 3], tag
    scored = [e for e in EventReader(run_dir / EVENTS).read_new() if e["event"] == "candidate_scored"]
    assert [s.value for s in log.Scalars("candidate/sops")] == pytest.approx([e["sops"] for e in scored])
    assert tags["histograms"] == ["search/score"] and log.Histograms("search/score")[0].histogram_value.num == 4
    assert tags["images"] == ["search/pareto_front"] and log.Images("search/pareto_front")[0].step == 4
    assert "search/top/text_summary" in tags["tensors"]


def test_without_tensorboard_the_option_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)  # as if it were not installed
    code, _, err = run_cli(capsys, "train", "--dataset", "digits", "--tensorboard", "--run-dir", tmp_path / "r")
    assert (
        code == 2
        and err == "snasnet: error: TensorBoard logging needs the tensorboard package: pip install tensorboard\n"
    )
    assert not (tmp_path / "r").exists()

"""Training: the original's recipe, events and checkpoints a front end relies on, and exact resume after a
stop anywhere (mid-epoch, before validation, between epochs) or a SIGINT from the command line."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import asdict
from types import SimpleNamespace

import pytest
import torch

from snasnet.core.errors import ArchitectureError, ConfigError
from snasnet.core.interrupts import GracefulStop
from snasnet.core.runs import EventReader
from snasnet.network.arch_file import read_arch_file
from snasnet.train.evaluate import evaluate_checkpoint
from snasnet.train.job import TrainConfig, fit, resume, train_config
from snasnet.train.optimizers import OPTIMIZERS
from snasnet.train.schedulers import SCHEDULERS
from snasnet_cli.arch_rows import join_arch_rows

# Small enough for seconds on a CPU: 224 random 8x8 images through the digits network, of which 22 are held out to
# validate on (the default 10%) and 202 trained on (7 steps of 32).
SMALL = {
    "dataset": "synthetic",
    "dataset_options": {
        "in_channels": 1,
        "image_size": 8,
        "num_classes": 10,
        "train_size": 224,
        "test_size": 50,
        "preset": "digits",
    },
    "epochs": 2,
    "batch_size": 32,
    "seed": 3,
    "device": "cpu",
    "optimizer": "sgd",
    "lr": 0.05,
}


def events(run_dir) -> list[dict]:
    return EventReader(run_dir / "events.jsonl").read_new()


def weights(path) -> dict:
    return torch.load(path, weights_only=True)


def assert_same_tensors(a, b, where: str = "") -> None:
    """Equal structure, and every tensor torch.equal."""
    if isinstance(a, torch.Tensor):
        assert torch.equal(a, b), f"{where} differs (max |diff| {(a.double() - b.double()).abs().max():.3g})"
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same_tensors(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same_tensors(x, y, f"{where}[{i}]")
    else:
        assert a == b, f"{where}: {a!r} != {b!r}"


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("train") / "run"
    result = fit(train_config(**SMALL), run_dir)
    return result


# --- the recipe --------------------------------------------------------------------------------------
def test_the_originals_recipe_is_the_default():
    c = train_config("cifar100")
    assert (c.optimizer, c.lr, c.momentum, c.weight_decay) == ("sgd", 0.1, 0.9, 5e-4)
    assert (c.scheduler, c.epochs, c.batch_size, c.timesteps, c.val_interval) == ("cosine", 300, 64, 5, 20)
    assert (c.arch, c.celltype) == ("0302 0030 3003 0000", "backward")
    opt = OPTIMIZERS.get(c.optimizer)([torch.nn.Parameter(torch.zeros(1))], c)
    assert isinstance(opt, torch.optim.SGD) and opt.defaults["momentum"] == 0.9
    assert opt.defaults["weight_decay"] == 5e-4


def test_digits_has_defaults_that_learn_on_a_laptop_and_adam_gets_its_own_rate():
    d = train_config("digits")
    assert (d.optimizer, d.lr, d.weight_decay, d.epochs, d.val_interval) == ("adam", 1e-2, 0.0, 25, 1)
    assert d.dataset_options == {"shift": 1}
    assert train_config("digits", lr=1e-2, epochs=3).lr == 1e-2
    assert train_config("cifar10", optimizer="adam").lr == 1e-3  # not SGD's 0.1
    assert train_config("digits", optimizer="sgd").lr == 0.1
    assert train_config("cifar10", epochs=None).epochs == 300  # None: the default


@pytest.mark.filterwarnings("ignore:Detected call of `lr_scheduler")
def test_schedulers_step_per_epoch_as_the_original():
    config = TrainConfig(epochs=8, lr=0.1)
    param = torch.nn.Parameter(torch.zeros(1))
    cosine = SCHEDULERS.get("cosine")(torch.optim.SGD([param], lr=0.1), config)
    lrs = []
    for _ in range(8):
        lrs.append(cosine.optimizer.param_groups[0]["lr"])
        cosine.step()
    eta = 0.1 * 0.01
    expected = [eta + (0.1 - eta) * (1 + math.cos(math.pi * e / 8)) / 2 for e in range(8)]
    assert lrs == pytest.approx(expected, rel=1e-12)
    assert cosine.optimizer.param_groups[0]["lr"] == pytest.approx(eta)  # after the last epoch: 0.01 x lr
    step = SCHEDULERS.get("step")(torch.optim.SGD([param], lr=0.1), config)
    lrs = []
    for _ in range(8):
        lrs.append(step.optimizer.param_groups[0]["lr"])
        step.step()
    assert lrs == pytest.approx([0.1] * 4 + [0.01] * 2 + [0.001] * 2)  # x0.1 at 50% and 75% of the epochs


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        ({"optimizer": "lamb"}, ConfigError, "unknown optimizer 'lamb': choose one of sgd, adam"),
        ({"scheduler": "linear"}, ConfigError, "unknown scheduler 'linear'"),
        ({"batch_size": 1}, ConfigError, "batch norm needs two images"),
        ({"epochs": 0}, ConfigError, "epochs must be at least 1"),
        ({"lr": -1.0}, ConfigError, "lr must be positive"),
        ({"arch": "0302 0030 3003"}, ArchitectureError, "expected 4 rows"),
        ({"arch": "0302 0030 3003 0000", "celltype": "forward"}, ArchitectureError, "backward edge"),
        ({"arch": "0100 0000 0000 0000"}, ArchitectureError, "no path from the input node 0 to the output node 3"),
        ({"learning_rate": 0.1}, ConfigError, "unknown training option"),
    ],
)
def test_bad_training_options_are_one_line_errors(options, error, message):
    with pytest.raises(error, match=message):
        train_config("digits", **options)


# --- a run ---------------------------------------------------------------------------------------------
def test_a_run_writes_events_and_checkpoints_that_eval_reproduces(uninterrupted):
    run = uninterrupted.run_dir
    log = events(run)
    kinds = [e["event"] for e in log]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished" and log[-1]["status"] == "ok"
    started = log[0]
    assert (started["epochs"], started["steps_per_epoch"], started["dataset"]) == (2, 7, "synthetic")
    assert (started["arch"], started["celltype"]) == ("0302 0030 3003 0000", "backward")
    steps = [e for e in log if e["event"] == "train_step"]
    assert steps and all(0 < e["step"] <= e["steps"] == 7 and 0 <= e["acc"] <= 1 for e in steps)
    assert {(e["epoch"], e["step"]) for e in steps} >= {(1, 1), (1, 7), (2, 1), (2, 7)}
    epochs = [e for e in log if e["event"] == "epoch_finished"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    layers = [name for name, _ in uninterrupted.model.lif_layers()]
    for e in epochs:
        assert 0 <= e["val_acc"] <= e["val_top5"] <= 1 and e["train_loss"] > 0 and e["images_per_s"] > 0
        assert list(e["firing_rates"]) == layers and list(e["spikes_per_image"]) == layers
        assert e["total_spikes_per_image"] == pytest.approx(sum(e["spikes_per_image"].values()))
    assert epochs[0]["lr"] == 0.05 and epochs[1]["lr"] == pytest.approx(0.0005 + 0.0495 / 2)  # cosine, T_max 2
    saved = [(e["kind"], e["epoch"]) for e in log if e["event"] == "checkpoint_saved"]
    assert ("last", 1) in saved and ("last", 2) in saved and any(kind == "best" for kind, _ in saved)

    last = weights(uninterrupted.last_checkpoint)  # weights_only=True: plain data and tensors only
    for key in ("model_config", "state_dict", "optimizer", "scheduler", "rng", "arch", "train_config"):
        assert key in last, key
    assert (last["epoch"], last["step"]) == (2, 0)
    assert last["arch"] == {"arch": "0302 0030 3003 0000", "celltype": "backward"}
    assert last["train_config"] == asdict(train_config(**SMALL, val_split=0.1))  # the split it used, recorded
    assert set(last["rng"]) == {"torch", "cuda", "numpy", "python"}
    assert last["scheduler"]["last_epoch"] == 2

    best_epoch = max(epochs, key=lambda e: e["val_acc"])
    best = weights(uninterrupted.best_checkpoint)
    assert best["epoch"] == uninterrupted.best_epoch == best_epoch["epoch"]
    # best.pt's test figures, reported once at the end, are what `snasnet eval best.pt` measures
    (tested,) = [e for e in log if e["event"] == "test_finished"]
    result = evaluate_checkpoint(uninterrupted.best_checkpoint, write_run=False)
    assert result.images == tested["images"] == 50
    assert (tested["epoch"], tested["selected_on"]) == (best_epoch["epoch"], "val")
    assert result.top1 == tested["top1"] and result.top5 == tested["top5"]
    assert result.loss == pytest.approx(tested["loss"], rel=1e-6)
    assert result.spikes_per_image == pytest.approx(tested["spikes_per_image"])


def test_best_pt_is_chosen_on_held_out_training_images_and_the_test_split_is_seen_once(uninterrupted):
    """Issue 28: validation was the test split. Now 10% of the training images (seeded by val_seed, not the run's
    seed) are held out, best.pt is chosen on them, and the test split is evaluated once, for best.pt, labelled
    as test in the events, run.json, last.pt and the result."""
    from snasnet.data.validation import held_out_indices

    log = events(uninterrupted.run_dir)
    started = log[0]
    assert (started["select_on"], started["val_split"]) == ("val", 0.1)
    assert (started["train_images"], started["val_images"], started["test_images"]) == (202, 22, 50)
    epochs = [e for e in log if e["event"] == "epoch_finished"]
    kinds = [e["event"] for e in log]
    assert kinds.count("test_finished") == 1
    assert kinds.index("test_finished") > max(i for i, k in enumerate(kinds) if k == "epoch_finished")
    tested = next(e for e in log if e["event"] == "test_finished")
    info = json.loads((uninterrupted.run_dir / "run.json").read_text())
    assert info["config"]["val_split"] == 0.1 and info["config"]["select_on"] == "val"
    assert info["config"]["val_seed"] == 0
    assert info["test"]["top1"] == tested["top1"] == uninterrupted.test["top1"]
    assert weights(uninterrupted.last_checkpoint)["test"]["top1"] == tested["top1"]
    assert uninterrupted.config.val_split == 0.1
    # the validation figures are of 22 images: each accuracy a multiple of 1/22
    for e in epochs:
        assert e["val_acc"] * 22 == pytest.approx(round(e["val_acc"] * 22), abs=1e-9)
    # the held-out images: disjoint from the trained ones, the same for the same val_seed, other for another
    train, val = held_out_indices(224, 0.1, seed=0)
    assert len(val) == 22 and not set(train) & set(val) and sorted(train + val) == list(range(224))
    assert held_out_indices(224, 0.1, seed=0) == (train, val) and held_out_indices(224, 0.1, seed=1)[1] != val


def test_select_on_test_keeps_the_originals_protocol_and_says_so(tmp_path, capsys):
    from snasnet_cli.app import main

    options = ["--dataset", "digits", "--epochs", "1", "--batch-size", "256", "--device", "cpu"]
    with pytest.raises(SystemExit) as done:
        main(["train", *options, "--select-on", "test", "--run-dir", str(tmp_path / "run")])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "chosen on the test split (360 images; --select-on test: the original code's protocol" in out
    assert "best accuracy on the test split" in out and "(--select-on test: the original's protocol)" in out
    started = events(tmp_path / "run")[0]
    assert (started["select_on"], started["val_images"], started["train_images"]) == ("test", 360, 1437)
    (epoch,) = [e for e in events(tmp_path / "run") if e["event"] == "epoch_finished"]
    (tested,) = [e for e in events(tmp_path / "run") if e["event"] == "test_finished"]
    assert tested["selected_on"] == "test" and tested["top1"] == epoch["val_acc"]  # the same images


def test_the_default_split_is_printed_and_a_run_without_validation_images_is_refused(tmp_path, capsys):
    from snasnet_cli.app import main

    options = ["--dataset", "digits", "--epochs", "1", "--batch-size", "256", "--device", "cpu"]
    with pytest.raises(SystemExit) as done:
        main(["train", *options, "--run-dir", str(tmp_path / "run")])
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "best.pt chosen on 144 of the training images held out (--val-split 0.1)" in out
    assert "tested once on the 360 test images" in out
    assert re.search(r"best validation accuracy [\d.]+% \(epoch 1, fp32\); test accuracy of best.pt [\d.]+% top-5", out)
    for args, message in [
        (["--val-split", "0"], "--val-split 0 holds out no training images"),
        (["--val-split", "1.5"], "val_split must be a fraction in [0, 1)"),
        (["--select-on", "test", "--val-split", "0.2"], "leave out --val-split"),
        (["--select-on", "train"], "select_on must be one of val, test"),
    ]:
        with pytest.raises(SystemExit) as done:
            main(["train", *options, *args, "--quiet", "--run-dir", str(tmp_path / "bad")])
        err = capsys.readouterr().err
        assert done.value.code == 2 and message in err and err.count("\n") == 1, err


def test_runs_written_before_the_split_resume_with_the_test_split_as_they_were_chosen():
    assert TrainConfig.stored({"dataset": "digits"}).select_on == "test"
    assert TrainConfig.stored({"dataset": "digits", "select_on": "val", "val_split": 0.1}).val_split == 0.1


def test_a_run_never_overwrites_another(uninterrupted):
    with pytest.raises(ConfigError, match="already holds a run"):
        fit(train_config(**SMALL), uninterrupted.run_dir)


def test_stops_mid_epoch_before_validation_and_between_epochs_resume_to_identical_weights(tmp_path, uninterrupted):
    run_dir = tmp_path / "run"
    stops = [
        # (the event that asks to stop) -> where the run stands when it has stopped: (epochs done, steps done)
        (lambda e: e["event"] == "train_step", (0, 1)),  # the first step of epoch 1
        (lambda e: e["event"] == "train_step" and e["step"] == e["steps"], (0, 7)),  # before validating epoch 1
        (lambda e: e["event"] == "checkpoint_saved" and e["epoch"] == 1, (1, 1)),  # after epoch 1: step 1 of 2
        (lambda e: e["event"] == "checkpoint_saved" and e["epoch"] == 2, (2, 0)),  # before testing best.pt
    ]
    for n, (when, position) in enumerate(stops):
        stop = GracefulStop()

        def listener(event: dict, when=when, stop=stop) -> None:
            if when(event):
                stop.request()

        with pytest.raises(KeyboardInterrupt):
            if n == 0:
                fit(train_config(**SMALL), run_dir, listeners=(listener,), stop=stop)
            else:
                resume(run_dir, listeners=(listener,), stop=stop)
        last = weights(run_dir / "checkpoints" / "last.pt")
        assert (last["epoch"], last["step"]) == position and last["test"] is None
        finished = events(run_dir)[-1]
        assert finished["event"] == "run_finished" and finished["status"] == "cancelled"
    result = resume(run_dir)  # only the test of best.pt is left
    assert result.epochs == 2 and events(run_dir)[-1]["status"] == "ok"
    assert [e["event"] for e in events(run_dir)].count("test_finished") == 1
    same = {k: v for k, v in uninterrupted.test.items() if k != "checkpoint"}
    assert {k: v for k, v in result.test.items() if k != "checkpoint"} == same

    resumed, straight = weights(result.last_checkpoint), weights(uninterrupted.last_checkpoint)
    assert_same_tensors(resumed["state_dict"], straight["state_dict"], "weights")
    assert_same_tensors(resumed["optimizer"], straight["optimizer"], "optimizer")
    # the epochs' figures add up across the interruptions as if there had been none
    epochs = [e for e in events(run_dir) if e["event"] == "epoch_finished"]
    reference = [e for e in events(uninterrupted.run_dir) if e["event"] == "epoch_finished"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    for got, want in zip(epochs, reference, strict=True):
        for key in ("train_loss", "train_acc", "val_loss", "val_acc", "val_top5", "lr", "total_spikes_per_image"):
            assert got[key] == want[key], key
    assert json.loads((run_dir / "run.json").read_text())["status"] == "ok"


def test_resume_refuses_a_finished_run_and_a_folder_without_checkpoint(tmp_path, uninterrupted):
    with pytest.raises(ConfigError, match="finished all 2 epochs"):
        resume(uninterrupted.run_dir)
    with pytest.raises(Exception, match="nothing to resume"):
        resume(tmp_path)


# --- the command line ----------------------------------------------------------------------------------
def snasnet(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "snasnet_cli", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )


def wait_for(path, predicate, timeout: float = 240.0) -> dict:
    reader, deadline = EventReader(path), time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in reader.read_new():
            if predicate(event):
                return event
        time.sleep(0.05)
    raise AssertionError(f"no such event in {path} after {timeout} s")


def test_sigint_saves_where_training_stopped_and_resume_from_the_command_line_ends_identical(tmp_path):
    """What the dashboard does: launch `train --quiet`, send SIGINT, later resume it."""
    args = ["--dataset", "digits", "--epochs", "1", "--batch-size", "128", "--device", "cpu", "--seed", "1"]
    run_dir = tmp_path / "run"
    job = snasnet("train", *args, "--run-dir", str(run_dir), "--quiet")
    wait_for(run_dir / "events.jsonl", lambda e: e["event"] == "train_step")
    job.send_signal(signal.SIGINT)
    out, err = job.communicate(timeout=240)
    assert job.returncode == 130, err
    assert "Traceback" not in err and f"snasnet train --resume {run_dir}" in err
    last = weights(run_dir / "checkpoints" / "last.pt")
    assert last["epoch"] == 0 and 1 <= last["step"] < 12
    assert events(run_dir)[-1]["status"] == "cancelled"

    again = snasnet("train", "--resume", str(run_dir), "--quiet")
    out, err = again.communicate(timeout=240)
    assert again.returncode == 0, err
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the commands ran: another thread count rounds sums differently
    try:
        straight = fit(train_config("digits", epochs=1, batch_size=128, device="cpu", seed=1), tmp_path / "straight")
    finally:
        torch.set_num_threads(threads)
    assert_same_tensors(weights(run_dir / "checkpoints" / "last.pt")["state_dict"], straight.model.state_dict())


def test_the_cell_comes_from_arch_rows_a_file_or_a_search(tmp_path, monkeypatch):
    from snasnet_cli.app import main

    search = tmp_path / "search"
    search.mkdir()
    (search / "best_arch.json").write_text(
        json.dumps({"arch": "0342 0000 0003 0000", "celltype": "forward", "score": 1.5, "dataset": "digits"})
    )
    seen = []

    def fake_fit(config, path, listeners=()):  # what the command asks the library for
        seen.append(config)
        return SimpleNamespace(
            best_acc=0.5, best_epoch=1, precision="fp32", run_dir=tmp_path / "r", test=None, config=config
        )

    monkeypatch.setattr("snasnet.train.job.fit", fake_fit)
    arch_file = str(search / "best_arch.json")
    cases = [
        (
            ["--arch", "0300", "0030", "3003", "0000", "--dataset", "digits"],
            ("0300 0030 3003 0000", "backward", "digits"),
        ),
        (["--arch", "0300 0030 0003 0000", "--celltype", "forward"], ("0300 0030 0003 0000", "forward", "cifar10")),
        (["--arch-file", arch_file, "--dataset", "synthetic"], ("0342 0000 0003 0000", "forward", "synthetic")),
        (["--from-search", str(search)], ("0342 0000 0003 0000", "forward", "digits")),  # the search's dataset
        # issue 28: the file's dataset was ignored (cifar10, which is not there, instead of digits)
        (["--arch-file", arch_file], ("0342 0000 0003 0000", "forward", "digits")),
    ]
    for args, expected in cases:
        with pytest.raises(SystemExit) as done:
            main(["train", *args, "--quiet", "--run-dir", str(tmp_path / "r")])
        assert done.value.code == 0
        assert (seen[-1].arch, seen[-1].celltype, seen[-1].dataset) == expected, args
    assert seen[-1].optimizer == "adam"  # the digits defaults came with the search's dataset


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--arch", "0302 0030 3003 0000", "--arch-file", "x.json"], "give one of --arch, --arch-file"),
        (["--arch-file", "missing.json"], "architecture file not found: missing.json"),
        (["--from-search", "."], "no best_arch.json in"),
        (["--resume", ".", "--lr", "0.1"], "--resume continues a run with its own settings: leave out --lr"),
        (["--optimizer", "lamb", "--dataset", "digits"], "unknown optimizer 'lamb'"),
        (["--dataset", "cifar10", "--data-dir", "nowhere"], "CIFAR-10 not found: looked for"),
        (["--arch", "0302", "0030", "3003", "0000", "extra"], "unexpected argument(s): extra"),
    ],
)
def test_train_mistakes_exit_2_with_one_line(args, message, capsys, tmp_path, monkeypatch):
    from snasnet_cli.app import main

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as done:
        main(["train", *args, "--quiet"])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1 and err.startswith("snasnet: error: "), err
    assert message in err
    assert not (tmp_path / "runs").exists()  # nothing half-made was left behind


def test_arch_rows_after_the_option_are_joined_back():
    assert join_arch_rows("0302", ["ckpt.pt", "0030", "3003", "0000"]) == ("0302 0030 3003 0000", ["ckpt.pt"])
    assert join_arch_rows("0302 0030 3003 0000", ["0030"]) == ("0302 0030 3003 0000", ["0030"])
    assert join_arch_rows(None, ["a"]) == (None, ["a"])


def test_arch_files_are_read_with_their_extra_fields(tmp_path):
    path = tmp_path / "best_arch.json"
    path.write_text(json.dumps({"arch": "0302 0030 3003 0000", "celltype": "backward", "score": 3.25}))
    cell, info = read_arch_file(path)
    assert str(cell) == "0302 0030 3003 0000" and info["score"] == 3.25
    assert read_arch_file(tmp_path)[0] == cell  # a search's run directory
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected"):
        read_arch_file(path)


def test_the_first_signal_asks_to_stop_and_a_later_second_stops_at_once():
    previous = signal.getsignal(signal.SIGTERM)
    with GracefulStop() as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.01)  # the handler runs between bytecodes
        assert stop.requested and stop.signal == signal.SIGTERM
        os.kill(os.getpid(), signal.SIGTERM)  # the same request delivered twice (`timeout` does that)
        time.sleep(0.01)
        stop._requested_at -= GracefulStop.FORCE_AFTER  # a second later
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(0.01)
    assert signal.getsignal(signal.SIGTERM) is previous


def test_progress_shows_the_runs_figures_from_its_events():
    from io import StringIO

    from rich.console import Console

    from snasnet_cli.train_progress import TrainProgress

    out = StringIO()
    console = Console(file=out, width=200, force_terminal=False)
    progress = TrainProgress(console, out=console)
    progress({"event": "run_started", "epochs": 3, "steps_per_epoch": 10, "start_epoch": 1, "start_step": 4})
    progress({"event": "train_step", "epoch": 2, "step": 6, "steps": 10, "loss": 0.5, "acc": 0.75, "images_per_s": 99})
    assert progress.progress.tasks[0].completed == 16 and progress.progress.tasks[0].total == 30
    epoch = {
        "epoch": 2,
        "epochs": 3,
        "train_loss": 0.41234,
        "train_acc": 0.875,
        "val_loss": 0.3,
        "val_acc": 0.9,
        "val_top5": 1.0,
        "lr": 0.05,
        "total_spikes_per_image": 1234.4,
        "images_per_s": 321.0,
        "seconds": 4.2,
    }
    progress({"event": "epoch_finished", **epoch})
    progress({"event": "run_finished", "status": "ok"})
    text = out.getvalue()
    assert "resuming at epoch 2, step 4" in text
    assert "epoch 2/3  train loss 0.4123 acc 87.50%  val loss 0.3000 acc 90.00% top-5 100.00%" in text
    assert "spikes/image 1,234" in text and "321 img/s" in text


def test_a_forward_cell_with_a_pruned_node_trains_and_its_checkpoint_evaluates(tmp_path):
    # a search over forward cells hands such cells on; nn.Module.to() and load_checkpoint must handle them
    config = train_config(**{**SMALL, "epochs": 1}, arch="0342 0000 0003 0000", celltype="forward")
    result = fit(config, tmp_path / "run")
    assert result.model.arch.celltype == "forward" and result.epochs == 1
    evaluated = evaluate_checkpoint(result.last_checkpoint, write_run=False)
    assert evaluated.top1 == result.test["top1"]  # one epoch: best.pt is last.pt

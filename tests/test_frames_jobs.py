"""Every job on event frames (digits-dvs): train, eval and search take ``--dataset digits-dvs``, bin its events
into the network's T, and refuse a network of the other input kind with one line."""

from __future__ import annotations

import json

import pytest
import torch

from snasnet.core.errors import ConfigError
from snasnet.core.runs import EventReader
from snasnet.data.datasets import get_dataset
from snasnet.network.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from snasnet.network.model import build_model
from snasnet.search.job import SearchConfig, run_search
from snasnet.train.evaluate import EvalConfig, evaluate_checkpoint
from snasnet.train.job import fit
from snasnet.train.recipe import train_config
from snasnet_cli.app import main

pytestmark = pytest.mark.usefixtures("one_thread")

ARCH = "0302 0030 3003 0000"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    """One digits-dvs cache for the module (generating it takes a few seconds)."""
    root = tmp_path_factory.mktemp("data")
    get_dataset("digits-dvs", data_dir=root)
    return root


@pytest.fixture(scope="module")
def trained(data_dir, tmp_path_factory):
    """Three epochs on digits-dvs at T=2 (the events binned into 2 frames: a third of the default's work per
    epoch), with the frames default normalisation (running statistics in training: measured 47% validation
    after 3 epochs here, chance 10%)."""
    config = train_config("digits-dvs", data_dir=str(data_dir), timesteps=2, epochs=3, device="cpu", seed=1)
    return fit(config, tmp_path_factory.mktemp("train") / "run")


def test_digits_dvs_defaults_are_its_frames_and_a_recipe_that_learns_in_minutes():
    c = train_config("digits-dvs")
    assert c.timesteps == 6  # the frames per sample of digits-dvs
    assert (c.optimizer, c.lr, c.weight_decay, c.epochs, c.val_interval) == ("adam", 1e-2, 0.0, 15, 1)
    assert c.dataset_options == {"shift": 2}
    assert train_config("nmnist").timesteps == 10 and train_config("digits").timesteps == 5
    assert SearchConfig(dataset="digits-dvs").timesteps == 6
    assert SearchConfig(dataset="digits").timesteps == 5
    assert SearchConfig(dataset="digits-dvs", timesteps=3).timesteps == 3


def test_the_events_are_binned_into_the_networks_timesteps(data_dir):
    assert get_dataset("digits-dvs", data_dir=data_dir).train[0][0].shape == (6, 2, 20, 20)
    bundle = get_dataset("digits-dvs", data_dir=data_dir, model_timesteps=3)
    assert bundle.timesteps == 3 and bundle.preset == "digits-dvs"
    assert bundle.train[0][0].shape == (3, 2, 20, 20)
    assert get_dataset("digits", model_timesteps=3).timesteps is None  # images have no time axis
    assert get_dataset("digits-dvs", data_dir=data_dir, model_timesteps=3, timesteps=4).timesteps == 4


def test_training_on_frames_learns_and_its_checkpoint_is_a_frames_network(trained):
    history = trained.history
    assert len(history) == 3 and trained.best_acc > 0.3  # chance is 0.1
    model = load_checkpoint(trained.best_checkpoint)
    assert model.preset.takes_frames and model.timesteps == 2 and model.preset.in_channels == 2
    assert read_checkpoint(trained.best_checkpoint)["model_config"]["preset"]["input"] == "frames"


def test_eval_rebuilds_the_frames_network_and_reproduces_its_test(trained, tmp_path):
    result = evaluate_checkpoint(EvalConfig(str(trained.best_checkpoint), device="cpu"), tmp_path / "eval")
    assert result.images == 360
    assert result.top1 == pytest.approx(trained.test["top1"], abs=1e-9)  # the run's test of best.pt, repeated
    finished = [e for e in EventReader(tmp_path / "eval" / "events.jsonl").read_new() if e["event"] == "eval_finished"]
    assert finished[0]["dataset"] == "digits-dvs"
    # another T: the events are binned into that many frames for the network
    again = evaluate_checkpoint(EvalConfig(str(trained.best_checkpoint), device="cpu", timesteps=3), write_run=False)
    assert again.images == 360 and again.top1 > 0.2


def test_a_frames_network_on_images_and_an_image_network_on_frames_are_one_line_errors(trained, data_dir, tmp_path):
    with pytest.raises(ConfigError, match="takes event frames .* but dataset digits gives static images"):
        evaluate_checkpoint(EvalConfig(str(trained.best_checkpoint), dataset="digits", device="cpu"), write_run=False)
    images = save_checkpoint(tmp_path / "best.pt", build_model("digits", ARCH), train_config={"dataset": "digits"})
    with pytest.raises(ConfigError, match="takes static images .* but dataset digits-dvs gives event frames"):
        config = EvalConfig(str(images), dataset="digits-dvs", data_dir=str(data_dir), device="cpu")
        evaluate_checkpoint(config, write_run=False)


def test_frames_of_another_t_than_the_network_are_refused_before_training(data_dir, tmp_path):
    config = train_config(
        "digits-dvs", data_dir=str(data_dir), timesteps=4, dataset_options={"timesteps": 6}, device="cpu"
    )
    with pytest.raises(ConfigError, match="runs T=4 timesteps but dataset digits-dvs gives 6 frames per sample"):
        fit(config, tmp_path / "run")


def test_search_scores_frames_and_records_their_t(data_dir, tmp_path):
    config = SearchConfig(
        dataset="digits-dvs", data_dir=str(data_dir), num_search=3, batch_size=32, repeat=1, timesteps=2, device="cpu"
    )
    result = run_search(config, tmp_path / "search")
    assert len(result.ranking) == 3
    assert all(torch.isfinite(torch.tensor(c.score)) for c in result.ranking[:1])
    best = json.loads((tmp_path / "search" / "best_arch.json").read_text())
    assert best["dataset"] == "digits-dvs" and best["timesteps"] == 2


def test_the_search_command_takes_digits_dvs_with_its_own_t(data_dir, tmp_path, capsys):
    with pytest.raises(SystemExit) as done:
        main(
            ["search", "--dataset", "digits-dvs", "--data-dir", str(data_dir), "-n", "2", "--batch-size", "16",
             "--repeat", "1", "--device", "cpu", "--quiet", "--run-dir", str(tmp_path / "s")]
        )  # fmt: skip
    assert done.value.code in (0, None), capsys.readouterr().err
    assert json.loads((tmp_path / "s" / "best_arch.json").read_text())["timesteps"] == 6


@pytest.mark.parametrize(
    "args",
    [
        ["onnx", "--check-images", "32"],
        ["onnx", "--mode", "step", "--check-images", "32"],
        ["energy", "--batches", "1", "--batch-size", "16"],
        ["nir", "--check-images", "16"],
    ],
    ids=["onnx-unrolled", "onnx-step", "energy", "nir"],
)
def test_every_export_of_a_digits_dvs_checkpoint_checks_out_on_its_frames(trained, tmp_path, capsys, args):
    with pytest.raises(SystemExit) as done:
        main(["export", args[0], str(trained.best_checkpoint), *args[1:], "--quiet", "--run-dir", str(tmp_path / "x")])
    out, err = capsys.readouterr()
    assert done.value.code in (0, None), err
    finished = [e for e in EventReader(tmp_path / "x" / "events.jsonl").read_new() if e["event"] == "export_finished"]
    assert finished, out
    if args[0] == "energy":
        report = json.loads((tmp_path / "x" / "energy.json").read_text())
        stem = next(row for row in report["layers"] if row["layer"] == "stem.0")
        assert stem["input"] == "events" and stem["sops"] > 0 and stem["calls_per_image"] == 2
    else:
        assert finished[0]["parity"]["passed"], finished[0]["parity"]


def test_a_digits_dvs_training_run_opens_in_the_dashboard(trained):
    """The TUI follows a frames run as any other (its events are the same protocol)."""
    import asyncio

    from snasnet_cli.tui.app import make_app

    async def check() -> str:
        app = make_app(trained.run_dir, poll_interval=0.05)
        async with app.run_test(size=(80, 24)) as pilot:
            for _ in range(200):
                await pilot.pause(0.05)
                stats = str(app.query_one("#train-stats").render())
                if "ok" in stats:
                    return stats
        return stats

    stats = asyncio.run(check())
    assert "ok" in stats and f"val acc {100 * trained.best_acc:.1f}%" in stats, stats

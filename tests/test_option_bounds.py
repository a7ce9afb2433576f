"""Huge or odd numbers on the command line are one line and exit 2, before any work (issue 24, item 9).

Before: ``--batch-size 100000000000000000000`` overflowed a C integer (a traceback), ``--workers`` that large
started forking, ``--timesteps`` that large built a network that never finished a step, ``--weight-decay 1e308``
overflowed the weights, ``export onnx --batch ²`` passed ``str.isdigit`` and failed in ``int()``."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from snasnet.network.checkpoint import save_checkpoint
from snasnet.network.model import build_model
from snasnet_cli.app import app, main

HUGE = "100000000000000000000"  # 10**20: beyond a C long
TRAIN = ["train", "--dataset", "digits", "--epochs", "1"]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "best.pt"
    model = build_model("digits", "0200 0020 0002 0000", celltype="forward", timesteps=2)
    return str(save_checkpoint(path, model, train_config={"dataset": "digits"}))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([*TRAIN, "--batch-size", HUGE], "batch_size must be at most 1,048,576 (got 100,000,000,000,000,000,000)"),
        ([*TRAIN, "--timesteps", HUGE], "timesteps must be at most 10,000 (got 100,000,000,000,000,000,000)"),
        ([*TRAIN, "--seed", HUGE], "seed must be from 0 to 2**64 - 1 (got 100,000,000,000,000,000,000)"),
        ([*TRAIN, "--weight-decay", "1e308"], "weight_decay must be at most 1.0 (got 1e+308)"),
        ([*TRAIN, "--workers", "99999999999999999999"], "workers must be at most 256 (got 99,999,999,999,999,999,999)"),
        (["search", "--dataset", "digits", "--timesteps", HUGE], "--timesteps must be at most 10,000"),
        (["search", "--dataset", "digits", "--batch-size", HUGE], "--batch-size must be at most 1,048,576"),
        (["search", "--dataset", "digits", "--seed", HUGE], "--seed must be from 0 to 2**64 - 1"),
        (["eval", "{ckpt}", "--batch-size", HUGE], "--batch-size must be at most 1,048,576"),
        (["eval", "{ckpt}", "--timesteps", HUGE], "--timesteps must be at most 10,000"),
        (["eval", "{ckpt}", "--workers", "99999999999999999999"], "--workers must be at most 256"),
        (["export", "energy", "{ckpt}", "--batch-size", HUGE], "--batch-size must be at most 1,048,576"),
        (["export", "onnx", "{ckpt}", "--timesteps", "100000"], "timesteps must be at most 10,000 (got 100,000)"),
    ],
)
def test_a_number_beyond_its_bound_is_one_line_and_nothing_is_written(tmp_path, capsys, checkpoint, args, message):
    args = [a.replace("{ckpt}", checkpoint) for a in args]
    with pytest.raises(SystemExit) as done:
        main([*args, "--run-dir", str(tmp_path / "run")])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.startswith("snasnet: error: ") and err.count("\n") == 1, err
    assert message in err
    assert not (tmp_path / "run").exists()


def test_a_batch_of_a_superscript_digit_is_refused_as_a_bad_option(tmp_path, checkpoint):
    result = CliRunner().invoke(app, ["export", "onnx", checkpoint, "--batch", "²", "-o", str(tmp_path / "m.onnx")])
    assert result.exit_code == 2  # (int("²") raised ValueError: exit 1 with a traceback)
    assert "'²': give a positive number of images, or dynamic" in result.output
    assert not (tmp_path / "m.onnx").exists()

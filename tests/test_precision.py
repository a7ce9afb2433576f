"""Reported accuracy is fp32 unless a user asks for bf16 (`--precision`), on a GPU too; the precision is printed
next to every accuracy and recorded in the events. Training's own forward passes may run bf16 on CUDA, recorded
as well. No GPU is needed: the choice for a CUDA device is made before anything runs on it."""

from __future__ import annotations

import json

import pytest
import torch
from helpers import lively_weights

import snasnet.train.evaluate as evaluate_module
from snasnet.core.errors import ConfigError
from snasnet.core.runs import EventReader
from snasnet.network.checkpoint import save_checkpoint
from snasnet.network.model import build_model
from snasnet.train.evaluate import EvalConfig, evaluate_checkpoint
from snasnet_cli.app import main
from snasnet_cli.train_progress import epoch_line

ARCH = "0302 0030 3003 0000"
CUDA = torch.device("cuda")


def events(run_dir) -> list[dict]:
    return EventReader(run_dir / "events.jsonl").read_new()


@pytest.fixture
def checkpoint(tmp_path):
    model = lively_weights(build_model("digits", ARCH), seed=2).eval()
    return save_checkpoint(tmp_path / "best.pt", model, train_config={"dataset": "digits"})


def eval_as_if_on_cuda(monkeypatch, checkpoint, run_dir, **options) -> str:
    """Run the eval job with a CUDA device (the model stays on the CPU); return the precision it evaluated in."""
    real_evaluate, seen = evaluate_module.evaluate, []
    model, bundle = evaluate_module.load_for_eval(EvalConfig(checkpoint=str(checkpoint)))
    monkeypatch.setattr(model, "to", lambda *args, **kwargs: model)
    monkeypatch.setattr(evaluate_module, "resolve_device", lambda name: CUDA if name == "cuda" else torch.device(name))
    monkeypatch.setattr(evaluate_module, "load_for_eval", lambda config: (model, bundle))

    def on_the_cpu(model, data, **kwargs):
        seen.append(kwargs["precision"])
        return real_evaluate(model, data, **{**kwargs, "device": torch.device("cpu"), "channels_last": False})

    monkeypatch.setattr(evaluate_module, "evaluate", on_the_cpu)
    evaluate_checkpoint(str(checkpoint), run_dir, device="cuda", **options)
    return seen[0]


def test_the_eval_job_on_a_gpu_reports_fp32_unless_bf16_is_asked_for_and_records_it(tmp_path, monkeypatch, checkpoint):
    assert eval_as_if_on_cuda(monkeypatch, checkpoint, tmp_path / "default") == "fp32"
    assert eval_as_if_on_cuda(monkeypatch, checkpoint, tmp_path / "asked", precision="bf16") == "bf16"
    for run, expected in (("default", "fp32"), ("asked", "bf16")):
        log = {e["event"]: e for e in events(tmp_path / run)}
        assert log["run_started"]["precision"] == expected, log["run_started"]
        assert log["eval_finished"]["precision"] == expected, log["eval_finished"]


def test_training_validates_in_fp32_on_a_gpu_while_its_own_passes_default_to_bf16():
    from snasnet.train.job import TrainConfig, train_config
    from snasnet.train.precision import check_precision, training_precision

    config = train_config("cifar10")
    assert check_precision(config.precision) == "fp32"  # validation: the accuracy that picks best.pt
    assert training_precision(config.train_precision, CUDA) == "bf16"
    assert training_precision(config.train_precision, torch.device("cpu")) == "fp32"
    assert TrainConfig(precision="bf16").precision == "bf16"  # asked for
    with pytest.raises(ConfigError, match="unknown precision 'auto': choose one of fp32, bf16"):
        TrainConfig(precision="auto")  # reported accuracy has no device-dependent default


def test_a_run_of_an_earlier_version_resumes_with_its_training_precision():
    from snasnet.train.job import TrainConfig

    old = TrainConfig.stored({"dataset": "digits", "precision": "bf16"})  # training's, as it was recorded then
    assert (old.train_precision, old.precision) == ("bf16", "fp32")


def test_eval_prints_the_precision_next_to_each_accuracy(tmp_path, capsys, checkpoint):
    for args, expected in (([], "fp32"), (["--precision", "bf16"], "bf16")):
        with pytest.raises(SystemExit) as done:
            main(["eval", str(checkpoint), "--run-dir", str(tmp_path / expected), *args])
        out, err = capsys.readouterr()
        assert done.value.code == 0, err
        assert f"top-1 ({expected})" in out and f"top-5 ({expected})" in out, out
    with pytest.raises(SystemExit):
        main(["eval", str(checkpoint), "--json", "--run-dir", str(tmp_path / "json")])
    assert json.loads(capsys.readouterr().out)["precision"] == "fp32"


def test_train_validates_in_the_precision_asked_for_prints_it_and_records_both(tmp_path, capsys):
    run_dir = tmp_path / "run"
    args = ["train", "--dataset", "digits", "--epochs", "1", "--device", "cpu", "--precision", "bf16"]
    with pytest.raises(SystemExit) as done:
        main([*args, "--run-dir", str(run_dir), "--quiet"])
    out, err = capsys.readouterr()
    assert done.value.code == 0, err
    assert "(epoch 1, bf16)" in out, out
    log = {e["event"]: e for e in events(run_dir)}
    assert (log["run_started"]["val_precision"], log["run_started"]["train_precision"]) == ("bf16", "fp32")
    epoch = log["epoch_finished"]
    assert (epoch["val_precision"], epoch["train_precision"]) == ("bf16", "fp32"), epoch
    line = epoch_line(epoch)  # what the progress output prints for the epoch
    assert f"acc {100 * epoch['train_acc']:.2f}% (fp32)" in line, line
    assert f"top-5 {100 * epoch['val_top5']:.2f}% (bf16)" in line, line

"""The export jobs from Python, without the command line: the figures, the run directory, a failed check."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import lively_weights

from exporters.jobs import CheckFailed, ExportSource, export_energy_job, export_onnx_job
from snasnet.core.errors import ConfigError
from snasnet.core.runs import EventReader
from snasnet.network.checkpoint import save_checkpoint
from snasnet.network.model import build_model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = lively_weights(build_model("digits", "0302 0030 3003 0000"), 1)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "digits.pt", model)


def test_onnx_job_returns_and_records_the_parity(checkpoint, tmp_path):
    said = []
    result = export_onnx_job(ExportSource(checkpoint), images=32, run_dir=tmp_path / "run", say=said.append)
    assert result.path == tmp_path / "run" / "model.onnx" and result.path.is_file()
    assert result.parity.samples == 32 and result.parity.passed
    events = {e["event"]: e for e in EventReader(result.run_dir / "events.jsonl").read_new()}
    assert events["export_finished"]["parity"]["predictions_agree"] == result.parity.predictions_agree
    assert events["run_finished"]["status"] == "ok"
    assert any("checking" in line for line in said)


def test_a_failed_check_raises_with_the_figures_and_fails_the_run(checkpoint, tmp_path, monkeypatch):
    import exporters.jobs as jobs

    # the exported network computes with another tau: the check must catch it
    real = jobs.ExportSource.load

    def load_then_change(self, dataset=None):
        model = real(self, dataset)
        onnx_model = build_model("digits", str(model.arch), tau=2.0)
        onnx_model.load_state_dict(model.state_dict())
        return onnx_model.eval()

    monkeypatch.setattr(jobs.ExportSource, "load", load_then_change)
    import exporters.onnx as onnx

    real_check = onnx.check_onnx
    original = real(ExportSource(checkpoint))
    monkeypatch.setattr(onnx, "check_onnx", lambda path, model, images: real_check(path, original, images))
    with pytest.raises(CheckFailed) as err:
        export_onnx_job(ExportSource(checkpoint), images=32, run_dir=tmp_path / "run")
    assert not err.value.result.parity.passed and "does not reproduce PyTorch" in str(err.value)
    finished = EventReader(tmp_path / "run" / "events.jsonl").read_new()[-1]
    assert finished["event"] == "run_finished" and finished["status"] == "failed"


def test_energy_job_refuses_an_unknown_profile_before_any_work(checkpoint, tmp_path):
    with pytest.raises(ConfigError, match="unknown energy profile 'tpu'"):
        export_energy_job(ExportSource(checkpoint), profile="tpu", run_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
    source = dataclasses.replace(ExportSource(checkpoint), timesteps=2)
    result = export_energy_job(source, batches=1, batch_size=16, run_dir=tmp_path / "ok")
    assert result.product.timesteps == 2 and result.figures["images"] == 16
    assert (tmp_path / "ok" / "energy.csv").is_file() and (tmp_path / "ok" / "energy.png").is_file()


# --- the images of the check: the data the checkpoint was trained on, as `snasnet eval` takes ------------------
SYNTHETIC_DIGITS = {"in_channels": 1, "image_size": 8, "num_classes": 10, "test_size": 16, "seed": 5}


@pytest.fixture(scope="module")
def synthetic_checkpoint(tmp_path_factory):
    """A digits-shaped network trained (as its train_config says) on synthetic images."""
    model = lively_weights(build_model("digits", "0302 0030 3003 0000"), 2)
    train = {"dataset": "synthetic", "data_dir": None, "dataset_options": SYNTHETIC_DIGITS}
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "synthetic.pt", model, train_config=train)


def test_every_export_checks_on_the_data_the_checkpoint_was_trained_on(synthetic_checkpoint, tmp_path):
    from exporters.jobs import export_nir_job

    source = ExportSource(synthetic_checkpoint)
    onnx = export_onnx_job(source, images=8, run_dir=tmp_path / "onnx")
    energy = export_energy_job(source, batches=1, batch_size=8, run_dir=tmp_path / "energy")
    nir = export_nir_job(source, images=8, run_dir=tmp_path / "nir")
    assert [onnx.figures["dataset"], energy.figures["dataset"], nir.figures["dataset"]] == ["synthetic"] * 3
    # ... with the options it was trained with: the same seeded images as its own test split
    assert energy.figures["images"] == 8 and onnx.figures["images"] == 8


def test_the_check_reads_an_imagefolder_checkpoints_folder_and_image_size(tmp_path):
    from PIL import Image

    from exporters.jobs import check_images

    for split in ("train", "val"):
        for k, label in enumerate(("cat", "dog")):
            (tmp_path / "data" / split / label).mkdir(parents=True)
            Image.new("RGB", (20, 20), (40 * k, 80, 120)).save(tmp_path / "data" / split / label / "a.png")
    model = build_model("cifar100", "0302 0030 3003 0000", image_size=12, num_classes=2, final_neurons=10)
    train = {"dataset": "imagefolder", "data_dir": str(tmp_path / "data"), "dataset_options": {"image_size": 12}}
    ckpt = save_checkpoint(tmp_path / "folder.pt", model, train_config=train)
    source = ExportSource(ckpt)
    images, name = check_images(source.load(), None, None, 4, trained=source.trained_on())
    assert name == "imagefolder" and tuple(images.shape) == (2, 3, 12, 12)  # not CIFAR-100, which is not there
    result = export_energy_job(source, batches=1, batch_size=2, run_dir=tmp_path / "energy")
    assert result.figures["dataset"] == "imagefolder" and result.figures["images"] == 2


def test_a_given_dataset_still_wins(synthetic_checkpoint, tmp_path):
    result = export_energy_job(
        ExportSource(synthetic_checkpoint), batches=1, batch_size=8, dataset="digits", run_dir=tmp_path / "r"
    )
    assert result.figures["dataset"] == "digits"


def test_the_onnx_file_says_how_to_preprocess_its_input(checkpoint, tmp_path):
    # issue 28: a user with only model.onnx and raw 0-16 digits must be able to feed it
    import json

    import torch

    from exporters.onnx import graph_metadata, onnx_session
    from snasnet.data.datasets import get_dataset

    result = export_onnx_job(ExportSource(checkpoint), images=4, run_dir=tmp_path / "run")
    meta = graph_metadata(onnx_session(result.path))
    assert (meta["dataset"], meta["classes"], meta["timesteps"]) == ("digits", "10", "5"), meta
    assert meta["scale"] == "1/16" and "pixel values 0-16" in meta["input_kind"], meta
    mean, std = json.loads(meta["mean"]), json.loads(meta["std"])
    test_images = torch.stack([x for x, _ in get_dataset("digits", None).test])
    raw = (test_images * std[0] + mean[0]) * 16  # undone with the file's figures: the raw pixel values 0-16
    assert raw.min() > -1e-3 and raw.max() < 16 + 1e-3
    assert (raw - raw.round()).abs().max() < 1e-3, "the file's mean and std do not undo the normalisation"


def test_an_export_and_an_eval_record_the_training_run_they_read(checkpoint, tmp_path):
    # issue 28: every eval and export made its own runs/*-<time> folder, unlinked to its training run
    import json
    import shutil

    from snasnet.train.evaluate import evaluate_checkpoint

    train = tmp_path / "train-1"
    (train / "checkpoints").mkdir(parents=True)
    (train / "run.json").write_text(json.dumps({"job": "train", "status": "ok"}))
    best = shutil.copy(checkpoint, train / "checkpoints" / "best.pt")

    def recorded(run_dir):
        return json.loads((run_dir / "run.json").read_text()).get("source_run")

    export_onnx_job(ExportSource(best), images=0, run_dir=tmp_path / "export")
    evaluate_checkpoint(best, tmp_path / "eval", dataset="digits")
    assert recorded(tmp_path / "export") == recorded(tmp_path / "eval") == str(train.resolve())
    export_onnx_job(ExportSource(checkpoint), images=0, run_dir=tmp_path / "export-elsewhere")
    assert recorded(tmp_path / "export-elsewhere") is None  # a file from no run (the original's) names none

"""The export jobs from Python, without the command line: the figures, the run directory, a failed check."""

from __future__ import annotations

import dataclasses

import pytest
from helpers import lively_weights

from exporters.jobs import CheckFailed, ExportSource, export_energy_job, export_onnx_job
from snasnet.checkpoint import save_checkpoint
from snasnet.errors import ConfigError
from snasnet.model import build_model
from snasnet.runs import EventReader


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

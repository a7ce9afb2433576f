"""`snasnet export onnx|energy|nir` as a user meets it: files, figures, run directories, exit statuses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from helpers import lively_weights
from typer.testing import CliRunner

from exporters.onnx import onnx_session
from snasnet.core.runs import EventReader
from snasnet.network.checkpoint import save_checkpoint
from snasnet.network.model import build_model
from snasnet_cli.app import app

runner = CliRunner()
ARCH = "0302 0030 3003 0000"


def snasnet(*args: str) -> subprocess.CompletedProcess:
    """The real entry point in a fresh process, as a user's shell runs it."""
    return subprocess.run([sys.executable, "-m", "snasnet_cli", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def model():
    return lively_weights(build_model("digits", ARCH), 1)


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, model):
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "digits.pt", model)


def events(run_dir) -> dict[str, dict]:
    return {e["event"]: e for e in EventReader(run_dir / "events.jsonl").read_new()}


def test_onnx_command_exports_checks_and_records_the_figures(checkpoint, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["export", "onnx", str(checkpoint), "--run-dir", str(run), "--check-images", "64"])
    assert result.exit_code == 0, result.output
    assert (run / "model.onnx").is_file()
    assert "onnx.checker: ok" in result.output
    assert "predictions agree on 64/64" in result.output and ": pass" in result.output
    got = events(run)
    assert got["run_started"]["job"] == "export" and got["run_started"]["checkpoint"] == str(checkpoint)
    finished = got["export_finished"]
    assert finished["format"] == "onnx" and finished["path"] == str(run / "model.onnx")
    assert finished["mode"] == "unrolled" and finished["timesteps"] == 5 and finished["batch"] == "dynamic"
    assert finished["parity"]["passed"] and finished["parity"]["samples"] == 64 and finished["dataset"] == "digits"
    assert got["run_finished"]["status"] == "ok"
    assert json.loads((run / "run.json").read_text())["status"] == "ok"


def test_onnx_step_graph_with_fixed_batch_spike_counts_and_other_timesteps(checkpoint, tmp_path):
    out = tmp_path / "step.onnx"
    result = runner.invoke(
        app,
        ["export", "onnx", str(checkpoint), "-o", str(out), "--mode", "step", "--batch", "4", "--spike-counts",
         "--timesteps", "3", "--exporter", "torchscript", "--check-images", "32", "--run-dir", str(tmp_path / "r")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    session = onnx_session(out)
    assert session.get_inputs()[0].shape == [4, 1, 8, 8]
    outputs = [o.name for o in session.get_outputs()]
    assert outputs[0] == "scores" and "next.v.downconv1.1" in outputs and "spikes.classifier.2" in outputs
    assert "T=3" in result.output and "predictions agree on 32/32" in result.output


def test_a_check_that_fails_exits_1_and_marks_the_run_failed(checkpoint, tmp_path, monkeypatch):
    # an exporter bug, simulated: the graph's neurons get another time constant
    from exporters.plain_model import LIFParams

    monkeypatch.setattr(LIFParams, "of", classmethod(lambda cls, config: cls(2.0, config.threshold, config.v_reset)))
    run = tmp_path / "run"
    result = runner.invoke(
        app,
        ["export", "onnx", str(checkpoint), "--exporter", "torchscript", "--check-images", "64", "--run-dir", str(run)],
    )
    assert result.exit_code == 1
    assert "onnxruntime does not reproduce PyTorch" in result.output and "FAIL" in result.output
    got = events(run)
    assert not got["export_finished"]["parity"]["passed"]
    assert got["run_finished"]["status"] == "failed"
    assert json.loads((run / "run.json").read_text())["status"] == "failed"


def test_energy_command_writes_json_csv_chart_and_prints_the_table(checkpoint, tmp_path):
    run = tmp_path / "run"
    args = ["export", "energy", str(checkpoint), "--dataset", "digits", "--batches", "2", "--batch-size", "16"]
    result = runner.invoke(app, [*args, "--profile", "loihi", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    report = json.loads((run / "energy.json").read_text())
    assert report["images"] == 32 and report["profile"]["name"] == "loihi"
    assert (run / "energy.csv").read_text().splitlines()[-1].startswith("total,")
    assert (run / "energy.png").read_bytes()[:4] == b"\x89PNG"
    for text in ("energy per image, nJ (loihi, T=5, 32 images)", "cell1 2->0 conv3x3 feedback", "same-shape ANN",
                 "SNN memory", "ANN memory", "break-even firing rate"):  # fmt: skip
        assert text in result.output  # issue 28: layers by their cell edge, not cell1.cell_architecture_back.1.1
    assert "cell_architecture" not in result.output
    finished = events(run)["export_finished"]
    assert finished["format"] == "energy" and finished["path"] == str(run / "energy.json")
    assert finished["snn_energy_pj"] == pytest.approx(report["totals"]["snn_energy_pj"])
    totals = report["totals"]
    assert totals["snn_energy_pj"] == pytest.approx(totals["snn_compute_pj"] + totals["snn_memory_pj"])
    assert finished["break_even_rate"] == pytest.approx(totals["break_even_rate"])
    assert set(finished["firing_rates"]) == {name for name, _ in build_model("digits", ARCH).lif_layers()}


def test_energy_profiles_are_listed_with_their_sources():
    result = runner.invoke(app, ["export", "energy", "unused.pt", "--list-profiles"])
    assert result.exit_code == 0
    assert "45nm-fp32: E_MAC 4.6 pJ, E_AC 0.9 pJ. M. Horowitz" in result.output
    assert "loihi: E_MAC 4.6 pJ, E_AC 23.6 pJ. M. Davies" in result.output


def test_nir_command_writes_reads_back_and_simulates(checkpoint, tmp_path):
    out, run = tmp_path / "model.nir", tmp_path / "run"
    result = runner.invoke(
        app, ["export", "nir", str(checkpoint), "-o", str(out), "--check-images", "32", "--run-dir", str(run)]
    )
    assert result.exit_code == 0, result.output
    assert out.is_file() and "read back with nir.read" in result.output
    assert "NIR simulation vs PyTorch: predictions agree on 32/32" in result.output
    finished = events(run)["export_finished"]
    assert finished["format"] == "nir" and finished["read_back"] and finished["parity"]["passed"]
    # 36 nodes of the network and 4 zero nodes, 2 per cell, that order it for depth-first readers (Norse)
    assert finished["nodes"] == 40 and finished["dt"] == 1e-4


def test_original_checkpoint_exports_with_its_architecture(tmp_path, model):
    original = tmp_path / "save_digits_bw.pth.tar"
    torch.save({"state_dict": model.state_dict()}, original)
    args = ["export", "nir", str(original), "--dataset", "digits", "--check-images", "16"]
    result = runner.invoke(app, [*args, "--arch", ARCH, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "predictions agree on 16/16" in result.output


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (lambda p: p.write_text("not a checkpoint\n"), [], "is not a PyTorch checkpoint"),
        (lambda p: None, [], "checkpoint not found"),
        (
            lambda p: torch.save({"state_dict": build_model("digits", ARCH).state_dict()}, p),
            ["--dataset", "digits"],
            "does not record its network: give the architecture",
        ),
        (
            lambda p: torch.save({"state_dict": build_model("digits", ARCH).state_dict()}, p),
            ["--dataset", "digits", "--arch", "0303 0030 3003 0000"],
            "first mismatch at 'cell1.cell_architecture.3.1.weight'",
        ),
    ],
    ids=["text-file", "missing", "original-without-arch", "wrong-arch"],
)
def test_a_file_that_is_not_this_models_checkpoint_gives_one_line_and_status_2(tmp_path, make, extra, message):
    path = tmp_path / "model.pt"
    make(path)
    result = snasnet("export", "onnx", str(path), *extra, "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert message in result.stderr
    assert not (tmp_path / "run").exists()  # nothing started, nothing half-written


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["onnx", "--batch", "0"], "give a positive number of images, or dynamic"),
        (["onnx", "--mode", "stream"], "choose one of unrolled, step"),
        (["energy", "--profile", "tpu"], "choose one of 45nm-fp32"),
    ],
)
def test_bad_option_values_exit_2_naming_the_choices(checkpoint, tmp_path, args, message):
    command, *options = args
    result = runner.invoke(app, ["export", command, str(checkpoint), *options, "--run-dir", str(tmp_path / "r")])
    assert result.exit_code == 2
    assert message in " ".join(result.output.split())  # rich wraps long lines
    assert not (tmp_path / "r").exists()


def test_exporters_import_no_front_end():
    code = (
        "import sys\n"
        "import exporters.onnx, exporters.energy, exporters.energy_chart, exporters.nir, exporters.nir_simulation\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'typer', 'rich', 'textual', 'click'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_arch_is_given_in_four_words_as_train_and_eval_take_it(tmp_path, model):
    original = tmp_path / "save_digits_bw.pth.tar"
    torch.save({"state_dict": model.state_dict()}, original)
    for n, args in enumerate(
        (
            ["--arch", *ARCH.split(), str(original)],
            [str(original), "--arch", *ARCH.split()],
            ["--arch", ARCH, str(original)],
        )
    ):
        run = tmp_path / f"run{n}"
        result = runner.invoke(
            app, ["export", "nir", *args, "--dataset", "digits", "--check-images", "8", "--run-dir", str(run)]
        )
        assert result.exit_code == 0, result.output
        assert json.loads((run / "run.json").read_text())["arch"] == ARCH


@pytest.mark.parametrize(
    ("fmt", "where"),
    [("onnx", "exporters.onnx.export_onnx"), ("energy", "exporters.energy.count_operations"),
     ("nir", "exporters.nir.export_nir")],
)  # fmt: skip
def test_ctrl_c_exits_130_and_the_run_records_cancelled(checkpoint, tmp_path, monkeypatch, fmt, where):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(where, interrupted)
    run = tmp_path / "run"
    result = runner.invoke(app, ["export", fmt, str(checkpoint), "--run-dir", str(run), "--quiet"])
    assert result.exit_code == 130, result.output
    assert "interrupted" in result.output
    assert events(run)["run_finished"]["status"] == "cancelled"


def test_the_dashboards_export_key_checks_on_the_data_the_checkpoint_was_trained_on(tmp_path, monkeypatch):
    """The TUI's `x` runs `export onnx CKPT` with no dataset: a synthetic-trained digits-shaped network must be
    checked on synthetic images, not on digits (named like its preset)."""
    import exporters.jobs as jobs
    from snasnet_cli.tui.jobs import JobRequest

    model = lively_weights(build_model("digits", ARCH), 3)
    options = {"in_channels": 1, "image_size": 8, "num_classes": 10}
    ckpt = save_checkpoint(
        tmp_path / "best.pt", model, train_config={"dataset": "synthetic", "dataset_options": options}
    )
    checked = []
    real = jobs.check_images

    def recording(*args, **kwargs):
        images, name = real(*args, **kwargs)
        checked.append(name)
        raise KeyboardInterrupt  # enough seen: the export itself is tested above

    monkeypatch.setattr(jobs, "check_images", recording)
    command = JobRequest(job="export", dataset="synthetic", checkpoint=ckpt).command(tmp_path / "run")
    result = runner.invoke(app, command)
    assert checked == ["synthetic"], result.output


def test_opset_7_is_refused_in_one_line_without_a_converter_traceback(checkpoint, tmp_path):
    result = snasnet("export", "onnx", str(checkpoint), "--opset", "7", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
    assert "opset 7 is not supported by the dynamo exporter: choose 18-" in result.stderr
    assert "--exporter torchscript for 9-" in result.stderr
    assert not (tmp_path / "run").exists()


def test_a_batch_that_cannot_fit_in_memory_is_refused_naming_the_largest_that_fits(checkpoint, model, tmp_path,
                                                                                    monkeypatch, capsys):  # fmt: skip
    """`--batch 1000000` was OOM-killed (rc 137) with no message; here the machine is made to have room for 300."""
    from exporters.memory import activation_bytes_per_image
    from snasnet_cli.app import main

    per_image = activation_bytes_per_image(model)
    monkeypatch.setattr("exporters.memory.available_memory", lambda: 300 * per_image + 1)
    run = tmp_path / "run"
    with pytest.raises(SystemExit) as done:
        main(["export", "onnx", str(checkpoint), "--batch", "1000", "--run-dir", str(run)])
    err = capsys.readouterr().err
    assert done.value.code == 2 and err.count("\n") == 1, err
    assert err.startswith("snasnet: error: --batch 1000 needs about ")
    assert err.endswith("the largest batch that fits is 300 (or give --batch dynamic)\n")
    assert not run.exists()  # refused before the run started
    result = runner.invoke(app, ["export", "onnx", str(checkpoint), "--batch", "300", "--check-images", "8",
                                 "--run-dir", str(run)])  # fmt: skip
    assert result.exit_code == 0, result.output


def test_timesteps_0_is_refused_not_read_as_the_checkpoints(checkpoint, tmp_path):
    result = snasnet("export", "onnx", str(checkpoint), "--timesteps", "0", "--run-dir", str(tmp_path / "run"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "timesteps must be a positive integer (got 0)" in result.stderr
    assert not (tmp_path / "run").exists()

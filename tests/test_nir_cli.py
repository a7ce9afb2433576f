"""`snasnet export nir --check`: the chosen importers run the file the command wrote, and a table says which
load it and agree with PyTorch; the default is every importer installed."""

from __future__ import annotations

import pytest
from helpers import lively_weights
from typer.testing import CliRunner

from exporters.nir_importers import installed_importers
from snasnet.core.runs import EventReader
from snasnet.network.checkpoint import save_checkpoint
from snasnet.network.model import build_model
from snasnet_cli.app import app

runner = CliRunner()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    model = lively_weights(build_model("digits", "0302 0030 3003 0000"), 1)
    return save_checkpoint(tmp_path_factory.mktemp("ckpt") / "digits.pt", model)


def finished(run_dir) -> dict:
    return next(e for e in EventReader(run_dir / "events.jsonl").read_new() if e["event"] == "export_finished")


def table_row(output: str, importer: str) -> list[str]:
    line = next(line for line in output.splitlines() if line.startswith(f"│ {importer} "))
    return [cell.strip() for cell in line.strip("│").split("│")]


def test_check_runs_the_named_importers_and_prints_their_table(checkpoint, tmp_path):
    pytest.importorskip("snntorch")
    pytest.importorskip("norse")
    pytest.importorskip("spikingjelly")
    run = tmp_path / "run"
    args = ["export", "nir", str(checkpoint), "--check", "snntorch,norse,spikingjelly", "--check-images", "32"]
    result = runner.invoke(app, [*args, "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert "NIR importers vs PyTorch (32 digits images)" in result.output
    for importer in ("nirtorch", "snntorch", "norse", "spikingjelly"):  # nirtorch always: the reference reading
        name, loads, agree, close, diff, verdict = table_row(result.output, importer)
        assert (loads, agree, close, verdict) == ("yes", "32/32", "32/32", "pass"), importer
        assert float(diff) < 1e-3
    assert "│ sinabs " not in result.output
    rows = {row["importer"]: row for row in finished(run)["importers"]}
    assert list(rows) == ["nirtorch", "snntorch", "norse", "spikingjelly"]
    assert rows["snntorch"]["loads"] and rows["snntorch"]["parity"]["predictions_agree"] == 32


def test_default_runs_every_installed_importer_that_can_load_the_file_and_lists_the_others(checkpoint, tmp_path):
    run = tmp_path / "run"
    result = runner.invoke(app, ["export", "nir", str(checkpoint), "--check-images", "16", "--run-dir", str(run)])
    assert result.exit_code == 0, result.output
    assert [row["importer"] for row in finished(run)["importers"]] == installed_importers()
    if "norse" in installed_importers():  # a backward cell: Norse runs its cycles
        name, loads, agree, close, diff, verdict = table_row(result.output, "norse")
        assert (loads, agree, close, verdict) == ("yes", "16/16", "16/16", "pass")
    if "sinabs" in installed_importers():  # issue 28: it always failed; it cannot read a LIF over feature maps
        name, loads, *_, verdict = table_row(result.output, "sinabs")
        assert loads == "-" and verdict.startswith("not applicable: sinabs reads no LIF over"), verdict
        row = next(row for row in finished(run)["importers"] if row["importer"] == "sinabs")
        assert row["applicable"] is False and row["parity"] is None


def test_a_named_importer_that_cannot_run_the_file_fails_the_export(checkpoint, tmp_path):
    pytest.importorskip("sinabs")
    run = tmp_path / "run"
    args = ["export", "nir", str(checkpoint), "--check", "sinabs", "--check-images", "8", "--run-dir", str(run)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert "does not reproduce PyTorch in sinabs: ValueError" in " ".join(result.output.split())
    assert (tmp_path / "run" / "model.nir").is_file()  # the file is written and kept: the check is what failed


def test_an_unknown_importer_is_refused_naming_the_choices(checkpoint, tmp_path):
    result = runner.invoke(
        app, ["export", "nir", str(checkpoint), "--check", "loihi", "--run-dir", str(tmp_path / "r")]
    )
    assert result.exit_code == 2
    text = " ".join(result.output.replace("│", " ").split())  # rich draws a box around the message
    assert "'loihi': choose one of nirtorch, snntorch, norse, spikingjelly, sinabs" in text
    assert not (tmp_path / "r").exists()

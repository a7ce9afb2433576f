"""`snasnet env`: the facts a bug report needs, as this machine has them (compared with what torch and the
package metadata say), as text to paste and as JSON."""

from __future__ import annotations

import json
from importlib import metadata

import torch
from helpers import run_cli

from snasnet.data.datasets import list_datasets

PACKAGES = ["snasnet", "torch", "torchvision", "spikingjelly", "tonic", "onnx", "onnxruntime", "nir", "nirtorch"]


def test_env_json_holds_the_versions_the_machine_and_the_data(tmp_path, capsys, monkeypatch):
    (tmp_path / "cifar-10-batches-py").mkdir()
    (tmp_path / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"x")
    (tmp_path / "cifar-100-python").mkdir()  # empty: not found
    monkeypatch.setenv("SNASNET_DATA", str(tmp_path))
    code, out, err = run_cli(capsys, "env", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert set(report) == {"snasnet", "python", "platform", "executable", "packages", "nir_importers", "cpu", "cuda",
                           "spikingjelly_cuda", "data"}  # fmt: skip
    assert list(report["packages"]) == PACKAGES
    assert report["packages"]["torch"] == metadata.version("torch") and report["snasnet"] == metadata.version("snasnet")
    assert list(report["nir_importers"]) == ["nirtorch", "snntorch", "norse", "spikingjelly", "sinabs"]
    assert report["nir_importers"]["spikingjelly"]["version"] == metadata.version("spikingjelly")
    cpu = report["cpu"]
    assert (
        cpu["capability"] == torch.backends.cpu.get_cpu_capability() and cpu["torch_threads"] == torch.get_num_threads()
    )
    assert cpu["model"] and cpu["cores"] >= 1
    cuda = report["cuda"]
    assert cuda["available"] == torch.cuda.is_available() and len(cuda["devices"]) == torch.cuda.device_count()
    assert set(report["spikingjelly_cuda"]) == {"choice", "native", "triton", "cupy"}
    if not torch.cuda.is_available():
        assert not any(b["usable"] for k, b in report["spikingjelly_cuda"].items() if k != "choice")
    data = report["data"]
    assert data["root"] == str(tmp_path.resolve()) and data["from"] == "$SNASNET_DATA"
    datasets = data["datasets"]
    assert list(datasets) == list_datasets()
    assert datasets["cifar10"] == {"path": str(tmp_path / "cifar-10-batches-py"), "found": True}
    assert datasets["cifar100"]["found"] is False and datasets["nmnist"]["path"] == str(tmp_path / "NMNIST")
    assert datasets["digits"] == {"path": None, "found": None}  # bundled with scikit-learn: needs no files


def test_env_prints_lines_to_paste_into_an_issue(tmp_path, capsys):
    code, out, err = run_cli(capsys, "env", "--data-dir", tmp_path)
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"snasnet: {metadata.version('snasnet')}"
    assert f"torch: {metadata.version('torch')}" in lines
    assert any(line.startswith("CPU: ") and torch.backends.cpu.get_cpu_capability() in line for line in lines)
    assert any(line.startswith("spikingjelly CUDA backends: ") for line in lines)
    assert f"data root: {tmp_path.resolve()} (from --data-dir)" in lines
    assert "datasets not found there: cifar10 (cifar-10-batches-py), cifar100 (cifar-100-python)" in out

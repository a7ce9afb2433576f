"""The paper's networks by name: each builds the original's network (its state_dict layout, recorded from the
original code), loads the original's weights files and refuses another network's, and the commands take the name
instead of the architecture."""

from __future__ import annotations

import json
import pickle

import golden_data
import numpy as np
import pytest
import torch
from dataset_files import skip_cifar_md5
from golden_data import GOLDEN
from helpers import run_cli

import snasnet
from exporters.jobs import ExportSource
from snasnet.core.errors import CheckpointError, ConfigError
from snasnet.network.zoo import get_model, list_models

#: the original code's state_dict layout of each network (tests/data/original-snasnet/README.md says how)
LAYOUTS = {"snasnet-cifar10-bw": "cifar10_bw.layout.json", "snasnet-cifar100-bw": "cifar100_bw.layout.json"}


def layout(name: str) -> dict:
    return json.loads((GOLDEN / LAYOUTS[name]).read_text())


def original_file(tmp_path, name: str, make_state_dict) -> str:
    """A file in the original's format ({"state_dict": ...}) with the golden weights for ``name``'s layout."""
    path = tmp_path / get_model(name).weights_file
    torch.save({"state_dict": make_state_dict.make_state_dict(layout(name)), "epoch": 300}, path)
    return path


def test_the_registry_holds_the_papers_two_networks():
    assert list_models() == ["snasnet-cifar10-bw", "snasnet-cifar100-bw"] == snasnet.list_models()
    c10, c100 = get_model("snasnet-cifar10-bw"), get_model("snasnet-cifar100-bw")
    assert (c10.preset, c10.arch, c10.celltype, c10.second_avgpooling) == (
        "cifar10",
        "0303 0030 2002 0200",
        "backward",
        4,
    )
    assert (c100.preset, c100.arch, c100.celltype, c100.second_avgpooling) == (
        "cifar100",
        "0302 0030 3003 0000",
        "backward",
        2,
    )
    assert (c10.paper_top1, c100.paper_top1, c10.timesteps, c100.timesteps) == (93.73, 73.04, 5, 5)
    assert c10.weights_file == "save_cifar10_bw.pth.tar" and "drive.google.com" in c10.weights_url
    with pytest.raises(ConfigError, match="unknown model 'snasnet-imagenet': choose one of snasnet-cifar10-bw"):
        get_model("snasnet-imagenet")


@pytest.mark.parametrize("name", list_models())
def test_each_named_model_builds_the_originals_network(name):
    model = snasnet.create_model(name).eval()
    ours = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in model.state_dict().items()}
    expected = layout(name)
    assert list(ours) == list(expected) and ours == expected  # same keys in the same order, same shapes
    entry = get_model(name)
    with torch.no_grad():
        scores = model(torch.randn(2, 3, 32, 32))
    assert scores.shape == (2, 10 if entry.preset == "cifar10" else 100) and torch.isfinite(scores).all()
    assert model.timesteps == entry.timesteps and model.second_avgpooling == entry.second_avgpooling


def test_weights_in_the_originals_format_load_and_another_networks_are_refused(tmp_path, make_state_dict):
    path = original_file(tmp_path, "snasnet-cifar100-bw", make_state_dict)
    model = snasnet.create_model("snasnet-cifar100-bw", weights=path)
    assert torch.equal(model.state_dict()["stem.0.weight"], torch.load(path)["state_dict"]["stem.0.weight"])
    with pytest.raises(CheckpointError) as refused:
        snasnet.create_model("snasnet-cifar10-bw", weights=path)
    assert str(refused.value) == (
        f"snasnet-cifar10-bw: {path} does not fit architecture 0303 0030 2002 0200 (backward, preset cifar10): "
        "first mismatch at 'cell1.cell_architecture.3.1.weight', shape [128, 128, 1, 1] in the checkpoint, "
        "[128, 128, 3, 3] in the model"
    )  # the stem's width comes from the file (the original's CIFAR-10 code and its port differ there)


def write_golden_cifar100(root, labels: torch.Tensor) -> None:
    """``root/cifar-100-python`` whose test split is the 32 golden images (CIFAR's own row layout), labelled
    with ``labels``."""
    images = np.load(GOLDEN / "images_uint8_nhwc.npy")
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    rows = images.transpose(0, 3, 1, 2).reshape(len(images), -1)
    for split, data, fine in (("train", rows[:2], [0, 1]), ("test", rows, labels.tolist())):
        with open(folder / split, "wb") as f:
            pickle.dump({"data": data, "fine_labels": fine, "coarse_labels": [0] * len(fine)}, f)
    with open(folder / "meta", "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)], "coarse_label_names": []}, f)


def reference_predictions(path) -> torch.Tensor:
    """The original code's predictions for the golden images with the golden weights, as recorded on this CPU's
    instruction set; where there is no recording, those of the network typed out in full (``--arch ...``)."""
    name, _ = golden_data.native_recording()
    if name is not None:
        return golden_data.load_recording(name)["pred"]
    model = snasnet.load_checkpoint(path, arch="0302 0030 3003 0000", preset="cifar100", celltype="backward").eval()
    with torch.no_grad():
        return model(golden_data.golden_images()).argmax(1)


def test_eval_by_name_gives_the_originals_predictions_on_its_checkpoint(tmp_path, capsys, monkeypatch, make_state_dict):
    """`snasnet eval --model snasnet-cifar100-bw save_cifar100_bw.pth.tar` with the golden weights, on a CIFAR-100
    folder whose test images are the golden images labelled with the original code's predictions: top-1 is the
    share of predictions that agree with the original's (the golden rule: at least 29 of 32)."""
    skip_cifar_md5(monkeypatch)
    path = original_file(tmp_path, "snasnet-cifar100-bw", make_state_dict)
    write_golden_cifar100(tmp_path / "data", reference_predictions(path))
    args = ["--data-dir", tmp_path / "data", "--json", "-q"]
    code, out, err = run_cli(capsys, "eval", "--model", "snasnet-cifar100-bw", path, *args, "--run-dir", tmp_path / "e")
    assert code == 0, err
    report = json.loads(out)
    assert report["images"] == 32 and report["top1"] >= 29 / 32, report["top1"]
    started = [e for e in map(json.loads, (tmp_path / "e" / "events.jsonl").read_text().splitlines())][0]
    assert (started["arch"], started["dataset"]) == ("0302 0030 3003 0000", "cifar100")

    # the other network's name: one line naming the model and the first key that differs
    code, _, err = run_cli(capsys, "eval", "--model", "snasnet-cifar10-bw", path, *args, "--dataset", "cifar100")
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert f"snasnet-cifar10-bw: {path} does not fit architecture 0303 0030 2002 0200" in err
    assert "first mismatch at 'cell1.cell_architecture.3.1.weight'" in err
    # a setting that contradicts the name
    code, _, err = run_cli(capsys, "eval", "--model", "snasnet-cifar100-bw", path, "--second-avgpooling", "4", *args)
    assert code == 2 and "snasnet-cifar100-bw is 0302 0030 3003 0000 (backward, second_avgpooling 2)" in err


def test_train_by_name_takes_the_cell_pooling_and_dataset(capsys, monkeypatch):
    import snasnet.train.job

    seen = {}

    def fit(config, *args, **kwargs):  # what the command would train, without training
        seen["c"] = config
        raise SystemExit(0)

    monkeypatch.setattr(snasnet.train.job, "fit", fit)
    code, _, err = run_cli(capsys, "train", "--model", "snasnet-cifar10-bw", "-q")
    assert code == 0, err
    c = seen.pop("c")
    assert (c.model, c.dataset, c.arch, c.celltype, c.second_avgpooling) == (
        "snasnet-cifar10-bw", "cifar10", "0303 0030 2002 0200", "backward", 4
    )  # fmt: skip
    code, _, err = run_cli(capsys, "train", "--model", "snasnet-cifar10-bw", "--dataset", "digits", "-q")
    assert code == 0 and seen.pop("c").dataset == "digits"
    code, _, err = run_cli(capsys, "train", "--model", "snasnet-cifar10-bw", "--arch", "0302", "0030", "3003", "0000")
    assert code == 2 and "snasnet-cifar10-bw is 0303 0030 2002 0200" in err and "leave out --arch" in err


def test_models_lists_the_names_and_json_holds_every_field(capsys):
    code, out, _ = run_cli(capsys, "models")
    assert code == 0 and "snasnet-cifar10-bw" in out and "93.73%" in out and "0302 0030 3003 0000" in out
    code, out, _ = run_cli(capsys, "models", "--json")
    entries = json.loads(out)
    assert [e["name"] for e in entries] == list_models()
    assert set(entries[0]) >= {"preset", "arch", "celltype", "second_avgpooling", "paper_top1", "weights_url"}


def test_an_export_source_by_name_is_the_named_network(tmp_path, make_state_dict):
    path = original_file(tmp_path, "snasnet-cifar10-bw", make_state_dict)
    model = ExportSource(path, model="snasnet-cifar10-bw").load()
    assert (str(model.arch), model.second_avgpooling, model.preset.name) == ("0303 0030 2002 0200", 4, "cifar10")
    with pytest.raises(ConfigError, match="leave out --preset"):
        ExportSource(path, model="snasnet-cifar10-bw", preset="cifar100").load()

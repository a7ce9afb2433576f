"""The network is the original's: golden outputs recorded from the original implementation."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import GOLDEN, GOLDEN_ARCH

from snasnet.checkpoint import load_checkpoint, load_weights
from snasnet.errors import CheckpointError
from snasnet.model import build_model


def test_golden_files_are_part_of_the_repository():
    """A clone with nothing beside it runs these tests: the recorded files live in the repository."""
    root = Path(__file__).resolve().parents[1]
    assert GOLDEN.is_relative_to(root)
    names = ("cifar100_bw.layout.json", "cifar100_bw.expected.pt", "images_uint8_nhwc.npy")
    assert all((GOLDEN / name).is_file() for name in names)
    readers = [p for p in root.joinpath("tests").glob("*.py") if p.name != Path(__file__).name]
    for path in [*readers, root / ".ci" / "run"]:
        assert "../shared" not in path.read_text(), f"{path.name} reads files outside the repository"


def test_state_dict_layout_is_exactly_the_originals(golden_layout):
    model = build_model("cifar100", GOLDEN_ARCH, celltype="backward", second_avgpooling=2)
    ours = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in model.state_dict().items()}
    assert list(ours) == list(golden_layout)
    assert ours == golden_layout


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_golden_outputs(path, golden_state_dict, golden_images, golden_expected):
    model = build_model("cifar100", GOLDEN_ARCH)
    model.load_state_dict(golden_state_dict, strict=True)
    model.eval()
    with torch.no_grad():
        logits = model(golden_images, path=path)
    expected = golden_expected["logits"]
    worst = (logits - expected).abs().amax(dim=1)
    close = int((worst <= 1e-3).sum())
    agree = int((logits.argmax(1) == golden_expected["pred"]).sum())
    assert close >= 29, f"{path}: only {close}/32 samples have every logit within 1e-3 (worst {worst.max():.3g})"
    assert agree >= 29, f"{path}: predictions agree on only {agree}/32"


def test_original_checkpoint_file_loads_unchanged(tmp_path, golden_state_dict, golden_images, golden_expected):
    path = tmp_path / "save_cifar100_bw.pth.tar"
    torch.save({"state_dict": golden_state_dict}, path)
    model = load_checkpoint(path, arch=GOLDEN_ARCH, preset="cifar100", celltype="backward").eval()
    with torch.no_grad():
        pred = model(golden_images).argmax(1)
    assert int((pred == golden_expected["pred"]).sum()) >= 29


def test_state_dict_of_another_architecture_names_the_first_mismatching_key(make_state_dict):
    model = build_model("cifar100", GOLDEN_ARCH)
    # same edges but the input->output edge is conv3x3 instead of conv1x1: same keys, one shape differs
    other = make_state_dict.make_state_dict(
        make_state_dict.layout_of(build_model("cifar100", "0303 0030 3003 0000").state_dict())
    )
    with pytest.raises(CheckpointError) as err:
        load_weights(model, other, "save_other.pth.tar")
    assert "first mismatch at 'cell1.cell_architecture.3.1.weight'" in str(err.value)
    assert "[128, 128, 3, 3] in the checkpoint, [128, 128, 1, 1] in the model" in str(err.value)
    # a skip instead: the conv's keys are missing
    other = make_state_dict.make_state_dict(
        make_state_dict.layout_of(build_model("cifar100", "0301 0030 3003 0000").state_dict())
    )
    with pytest.raises(CheckpointError, match=r"'cell1\.cell_architecture\.3\.1\.weight', missing"):
        load_weights(model, other)
    # a forward cell's file into a backward model: the feedback edge is missing
    other = make_state_dict.make_state_dict(
        make_state_dict.layout_of(build_model("cifar100", "0302 0030 0003 0000", celltype="forward").state_dict())
    )
    with pytest.raises(CheckpointError, match=r"'cell1\.cell_architecture_back\.1\.1\.weight', missing"):
        load_weights(model, other)

"""The network is the original's: golden outputs recorded from the original implementation.

Two checks (golden README): on this CPU's instruction set against the recording made on it (the golden rule,
29 of 32), and, on every x86-64 CPU, in the portable mode against the portable recording, bit for bit. Wrong
networks with the same weights fail the rule, so it is known to bite.
"""

from __future__ import annotations

from pathlib import Path

import golden_data
import pytest
import torch
from golden_data import GOLDEN, GOLDEN_ARCH, PORTABLE_RECORDING
from golden_variants import MUTANTS, build_variant, portable_outputs

from snasnet.core.errors import CheckpointError
from snasnet.network.checkpoint import load_checkpoint, load_weights
from snasnet.network.model import build_model

PATHS = ("reference", "fast")


def test_golden_files_are_part_of_the_repository():
    """A clone with nothing beside it runs these tests: the recorded files live in the repository."""
    root = Path(__file__).resolve().parents[1]
    assert GOLDEN.is_relative_to(root)
    names = (
        "cifar100_bw.layout.json",
        "images_uint8_nhwc.npy",
        *golden_data.NATIVE_RECORDINGS.values(),
        PORTABLE_RECORDING,
    )
    assert all((GOLDEN / name).is_file() for name in names)
    readers = [p for p in root.joinpath("tests").glob("*.py") if p.name != Path(__file__).name]
    for path in [*readers, root / ".ci" / "run"]:
        assert "../shared" not in path.read_text(), f"{path.name} reads files outside the repository"


def test_state_dict_layout_is_exactly_the_originals(golden_layout):
    model = build_model("cifar100", GOLDEN_ARCH, celltype="backward", second_avgpooling=2)
    ours = {k: {"shape": list(v.shape), "dtype": str(v.dtype)} for k, v in model.state_dict().items()}
    assert list(ours) == list(golden_layout)
    assert ours == golden_layout


@pytest.mark.parametrize("path", PATHS)
def test_golden_outputs_on_this_instruction_set(path, golden_expected):
    """The recording of this CPU's instruction set (the session header names it): the golden rule. On the
    machines the recordings were made on, snasnet gives them bit for bit."""
    with torch.no_grad():
        logits = build_variant("golden")(golden_data.golden_images(), path=path)
    found = golden_data.match(logits, golden_expected)
    golden_data.FINDINGS.append(f"{path}, {golden_data.native_recording()[1]}: {found.summary()}")
    assert found.holds, f"{path}: {found.summary()} (the rule: {golden_data.MIN_CLOSE}/32 within 1e-3 and agreeing)"


@pytest.fixture(scope="session")
def portable() -> dict[str, torch.Tensor]:
    """Outputs in the portable mode, each group of variants in its own process: the golden network on both
    paths and every wrong one on the fast path."""
    env, line = golden_data.portable_environment()
    if env is None:
        pytest.skip(line)
    groups = [["golden:reference", MUTANTS[0] + ":fast"], ["golden:fast", *(m + ":fast" for m in MUTANTS[1:])]]
    return portable_outputs(env, groups)


@pytest.mark.parametrize("path", PATHS)
def test_golden_outputs_in_the_portable_mode_are_bit_identical(path, portable):
    found = golden_data.match(portable[f"golden:{path}"], golden_data.load_recording(PORTABLE_RECORDING))
    golden_data.FINDINGS.append(f"{path}, portable mode against {PORTABLE_RECORDING}: {found.summary()}")
    assert found.identical == found.samples, f"{path} in the portable mode: {found.summary()}"


@pytest.mark.parametrize("mutant", MUTANTS)
def test_the_golden_rule_fails_for_a_wrong_network(mutant, portable):
    """Each wrong network, with the golden weights, against the portable recording (any x86-64 CPU)."""
    found = golden_data.match(portable[f"{mutant}:fast"], golden_data.load_recording(PORTABLE_RECORDING))
    golden_data.FINDINGS.append(f"wrong network {mutant}, portable mode: {found.summary()}")
    assert not found.holds, f"the rule let {mutant} pass: {found.summary()}"
    assert found.close <= 8, f"{mutant} is close to the recording on too many samples: {found.summary()}"


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

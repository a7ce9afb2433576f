"""Checkpoint files: ours round-trip atomically; bad files give one clear message."""

from __future__ import annotations

import pickle

import pytest
import torch
from helpers import lively_weights

from snasnet.core.errors import CheckpointError, ConfigError
from snasnet.network.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from snasnet.network.model import build_model

GOLDEN = "0302 0030 3003 0000"


@pytest.fixture
def digits_model():
    return lively_weights(build_model("digits", GOLDEN, timesteps=4), seed=8).eval()


def test_our_checkpoint_round_trips_with_its_network(tmp_path, digits_model):
    path = save_checkpoint(tmp_path / "checkpoints" / "last.pt", digits_model, epoch=3, note="x")
    assert [p.name for p in path.parent.iterdir()] == ["last.pt"]  # no temporary file left behind
    loaded = load_checkpoint(path).eval()
    assert str(loaded.arch) == GOLDEN and loaded.timesteps == 4 and loaded.preset.name == "digits"
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(loaded(x), digits_model(x))
    assert read_checkpoint(path)["epoch"] == 3
    assert load_checkpoint(path, timesteps=2).timesteps == 2


def test_overwriting_is_atomic(tmp_path, digits_model):
    path = tmp_path / "last.pt"
    save_checkpoint(path, digits_model, epoch=1)
    save_checkpoint(path, digits_model, epoch=2)
    assert read_checkpoint(path)["epoch"] == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_our_checkpoint_refuses_another_architecture(tmp_path, digits_model):
    path = save_checkpoint(tmp_path / "a.pt", digits_model)
    with pytest.raises(CheckpointError, match="holds architecture 0302 0030 3003 0000"):
        load_checkpoint(path, arch="0303 0030 3003 0000")


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "is not a readable PyTorch checkpoint"),
        (b"this is a text file\n", "is not a (readable )?PyTorch checkpoint"),
        (bytes(range(256)) * 10, "is not a (readable )?PyTorch checkpoint"),
    ],
)
def test_files_that_are_not_checkpoints(tmp_path, content, expected):
    path = tmp_path / "model.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=expected):
        load_checkpoint(path)


def test_truncated_checkpoint(tmp_path, digits_model):
    path = save_checkpoint(tmp_path / "last.pt", digits_model)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated"):
        load_checkpoint(path)


class Payload:
    def __reduce__(self):
        return (print, ("this must never run",))


def test_files_with_code_are_refused_unopened(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "x": Payload()}, path, pickle_module=pickle)
    with pytest.raises(CheckpointError, match="weights_only"):
        load_checkpoint(path)
    assert "this must never run" not in capsys.readouterr().out


def test_missing_file_and_missing_architecture(tmp_path, digits_model):
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.pt")
    path = tmp_path / "orig.pth.tar"
    torch.save({"state_dict": digits_model.state_dict()}, path)
    with pytest.raises(CheckpointError, match="give the architecture and preset"):
        load_checkpoint(path)
    loaded = load_checkpoint(path, arch=GOLDEN, preset="digits")  # bare original form works with them
    assert loaded.preset.channels == 32
    torch.save([1, 2, 3], path)
    with pytest.raises(CheckpointError, match="holds a list"):
        load_checkpoint(path)
    torch.save({"epoch": 3}, path)
    with pytest.raises(CheckpointError, match="no state_dict"):
        load_checkpoint(path, arch=GOLDEN, preset="digits")


def test_original_cifar10_width_is_read_from_the_file(tmp_path):
    # the original's own cifar10 code is 128 wide, its spikingjelly port (our preset) 256
    narrow = build_model("cifar10", GOLDEN, channels=128)
    path = tmp_path / "save_cifar10_bw.pth.tar"
    torch.save({"state_dict": narrow.state_dict()}, path)
    assert load_checkpoint(path, arch=GOLDEN, preset="cifar10").preset.channels == 128


class SystemCall:
    def __reduce__(self):
        import os

        return (os.system, ("echo this must never run",))


def test_a_file_whose_pickle_calls_a_blocked_module_is_said_to_hold_code_that_was_not_run(tmp_path, capfd):
    """torch refuses it with "unsupported GLOBAL posix.system whose module posix is blocked"; it used to be
    called "not a PyTorch checkpoint"."""
    path = tmp_path / "evil.pt"
    torch.save({"state_dict": {}, "x": SystemCall()}, path)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(path)
    message = str(info.value)
    assert "holds code (posix.system), which was not run" in message and "not a PyTorch checkpoint" not in message
    assert "this must never run" not in capfd.readouterr().out


def test_an_unreadable_file_is_permission_denied_not_truncated(tmp_path, digits_model, monkeypatch):
    path = save_checkpoint(tmp_path / "m.pt", digits_model)

    def denied(*args, **kwargs):  # what open() raises for another uid's 0600 file (the tests may run as root)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(torch, "load", denied)
    with pytest.raises(CheckpointError, match=r"m\.pt: permission denied") as info:
        read_checkpoint(path)
    assert "truncated" not in str(info.value)


@pytest.mark.parametrize("timesteps", [0, -1])
def test_timesteps_below_1_are_refused_not_read_as_the_checkpoints(tmp_path, digits_model, timesteps):
    path = save_checkpoint(tmp_path / "m.pt", digits_model)
    with pytest.raises(ConfigError, match=rf"timesteps must be a positive integer \(got {timesteps}\)"):
        load_checkpoint(path, timesteps=timesteps)
    assert load_checkpoint(path, timesteps=3).timesteps == 3

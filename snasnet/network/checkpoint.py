"""Checkpoints: ours (self-describing, written atomically) and the original's (``{"state_dict": ...}``).

Every file is read with ``torch.load(weights_only=True)``: a checkpoint never runs code when opened.
"""

from __future__ import annotations

import os
import pickle
import re
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from snasnet.core.atomic import atomic_file
from snasnet.core.errors import (
    MAX_TIMESTEPS,
    ArchitectureError,
    CheckpointError,
    ConfigError,
    SnasnetError,
    check_at_most,
)
from snasnet.network.arch import Architecture
from snasnet.network.model import SNASNet, build_model, model_from_config
from snasnet.network.presets import Preset

FORMAT = "snasnet-checkpoint"
VERSION = 1


def save_checkpoint(path: str | os.PathLike, model: SNASNet, **extra: object) -> Path:
    """Write ``model`` (its config and weights) plus ``extra`` plain data atomically (``snasnet.core.atomic``):
    a crash leaves the old file."""
    path = Path(path)
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "model_config": model.config(),
        "state_dict": model.state_dict(),
        **extra,
    }
    with atomic_file(path, "wb") as f:
        torch.save(payload, f)
    return path


def read_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict:
    """The raw contents of a checkpoint file, or a CheckpointError that says what is wrong with it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        raise CheckpointError(_unpickling_refusal(path, str(exc))) from None
    except PermissionError:
        raise CheckpointError(f"{path}: permission denied (the file is not readable by this user)") from None
    except (RuntimeError, EOFError, OSError, zipfile.BadZipFile, ValueError, IndexError):
        raise CheckpointError(
            f"{path} is not a readable PyTorch checkpoint (truncated, or another kind of file)"
        ) from None
    if not isinstance(data, Mapping):
        raise CheckpointError(f"{path} holds a {type(data).__name__}, not a checkpoint dictionary")
    return dict(data)


def _unpickling_refusal(path: Path, message: str) -> str:
    """What torch's weights-only unpickler refused, in one line."""
    blocked = re.search(r"unsupported GLOBAL (\S+) whose module \S+ is blocked", message)
    if blocked:  # a callable such as os.system: the file holds code, which loading it would have run
        return (
            f"{path} holds code ({blocked.group(1)}), which was not run: it is not a plain checkpoint "
            "(loaded with weights_only=True); do not open it with weights_only=False unless you trust its source"
        )
    if "unsupported global" in message.lower():
        return (
            f"{path} holds Python objects besides tensors and plain data; refusing to unpickle them "
            "(loaded with weights_only=True)"
        )
    return f"{path} is not a PyTorch checkpoint (it could not be unpickled)"


def trained_on(data: Mapping) -> dict:
    """The data settings (``dataset``, ``data_dir``, ``dataset_options``) that our checkpoints record from their
    training, read from a checkpoint's contents (``read_checkpoint``); empty for the original's files."""
    if data.get("format") != FORMAT:
        return {}
    train = data.get("train_config")
    if not isinstance(train, Mapping):
        return {}
    return {k: train[k] for k in ("dataset", "data_dir", "dataset_options") if train.get(k) is not None}


def _is_state_dict(data: Mapping) -> bool:
    return bool(data) and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items())


def load_weights(model: SNASNet, state_dict: Mapping[str, torch.Tensor], source: str = "checkpoint") -> None:
    """``load_state_dict(strict=True)``, refusing a mismatch with the first differing key named."""
    expected = model.state_dict()
    for key, tensor in expected.items():
        if key not in state_dict:
            raise CheckpointError(
                f"{source} does not fit architecture {model.arch} ({model.arch.celltype}, preset "
                f"{model.preset.name}): first mismatch at '{key}', missing from the checkpoint"
            )
        got = state_dict[key]
        if tuple(got.shape) != tuple(tensor.shape):
            raise CheckpointError(
                f"{source} does not fit architecture {model.arch} ({model.arch.celltype}, preset "
                f"{model.preset.name}): first mismatch at '{key}', shape {list(got.shape)} in the "
                f"checkpoint, {list(tensor.shape)} in the model"
            )
    for key in state_dict:
        if key not in expected:
            raise CheckpointError(
                f"{source} does not fit architecture {model.arch} ({model.arch.celltype}, preset "
                f"{model.preset.name}): first mismatch at '{key}', which the model does not have"
            )
    model.load_state_dict(state_dict, strict=True)


def _given_arch(arch: str | Sequence[str], celltype: str | None, stored: str) -> Architecture:
    """The cell the user named, read as the checkpoint's cell type unless they named one. A cell that is not of
    that type (backward edges, for a forward checkpoint) is read as the other, so that the message says the
    checkpoint holds another cell, and which, rather than that the cell is malformed."""
    if celltype is not None:
        return Architecture.parse(arch, celltype)
    try:
        return Architecture.parse(arch, stored)
    except ArchitectureError:
        if stored != "forward":
            raise
    return Architecture.parse(arch, "backward")  # a backward cell reads every matrix a forward one does, and more


def load_checkpoint(
    path: str | os.PathLike,
    *,
    arch: Architecture | str | Sequence[str] | None = None,
    preset: str | Preset | None = None,
    celltype: str | None = None,
    timesteps: int | None = None,
    second_avgpooling: int = 2,
    map_location: str | torch.device = "cpu",
    **overrides: object,
) -> SNASNet:
    """A model with the weights of ``path``.

    Our checkpoints describe their network; ``timesteps`` may change T. The original's files
    (``{"state_dict": ...}`` or a bare state_dict) need ``arch`` and ``preset`` (and the ``celltype`` and
    ``second_avgpooling`` they were trained with). The stem width is read from the file, since the
    original's CIFAR-10 code and its spikingjelly port differ there.
    """
    if timesteps is not None and (isinstance(timesteps, bool) or not isinstance(timesteps, int) or timesteps < 1):
        # 0 would read as "not given" below and quietly become the checkpoint's T
        raise ConfigError(f"timesteps must be a positive integer (got {timesteps}); leave it out for the checkpoint's")
    check_at_most("timesteps", timesteps, MAX_TIMESTEPS)
    data = read_checkpoint(path, map_location)
    source = str(path)
    if data.get("format") == FORMAT:
        if not isinstance(data.get("model_config"), Mapping):
            raise CheckpointError(f"{source} has no model configuration: it is damaged, or was not written by snasnet")
        try:
            model = model_from_config(dict(data["model_config"]), timesteps=timesteps)
        except SnasnetError as exc:
            raise CheckpointError(f"{source}: {exc}") from None
        if arch is not None:
            given = arch if isinstance(arch, Architecture) else _given_arch(arch, celltype, model.arch.celltype)
            if given.matrix != model.arch.matrix or given.celltype != model.arch.celltype:
                raise CheckpointError(
                    f"{source} holds architecture {model.arch} ({model.arch.celltype}), not {given} "
                    f"({given.celltype}); leave the architecture out to use the checkpoint's"
                )
        state_dict = data.get("state_dict")
    else:
        state_dict = data.get("state_dict", data)
        if not isinstance(state_dict, Mapping) or not _is_state_dict(state_dict):
            raise CheckpointError(f"{source} holds no state_dict of tensors: it is not a model checkpoint")
        if arch is None or preset is None:
            raise CheckpointError(
                f"{source} is an original SNASNet checkpoint, which does not record its network: give the "
                "architecture and preset (e.g. --arch 0302 0030 3003 0000 --dataset cifar100)"
            )
        stem = state_dict.get("stem.0.weight")
        if stem is not None and stem.dim() == 4 and "channels" not in overrides:
            overrides["channels"] = int(stem.shape[0])
        model = build_model(
            preset, arch, celltype=celltype, timesteps=timesteps or 5, second_avgpooling=second_avgpooling, **overrides
        )
    if not isinstance(state_dict, Mapping):
        raise CheckpointError(f"{source} holds no state_dict")
    load_weights(model, state_dict, source)
    return model.to(map_location)

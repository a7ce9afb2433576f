"""Numeric precision of a forward pass, by name (registry): ``fp32``, or ``bf16`` autocast.

Reported accuracy is fp32 unless asked otherwise (``evaluate``, the eval job and training's validation
default to it); only training's own forward passes default to ``auto``: bf16 autocast on CUDA, fp32 on the
CPU. On a CPU, fp32 keeps results exact (bit-equal resume, the spike counts of the original's arithmetic);
under bf16 autocast the LIF membranes are bf16 too, which moved digits' spikes per image by 0.3% (measured;
the CPU kernels do run bf16).

Entries are torch dtype names, not dtypes, so front ends list the precisions without loading torch.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry

if TYPE_CHECKING:
    import torch

#: the dtype a precision autocasts to (None: no autocast)
PRECISIONS: Registry[str | None] = Registry("precision")
PRECISIONS.add("fp32", None)
PRECISIONS.add("bf16", "bfloat16")

AUTO = "auto"  # training only: bf16 on CUDA, fp32 on the CPU
REPORTED = "fp32"  # what accuracies are computed in unless a user asks for another


def check_precision(name: str) -> str:
    """``name`` if it is a registered precision; the registry's one-line error otherwise."""
    PRECISIONS.get(name)
    return name


def check_training_precision(name: str) -> str:
    """``name`` if training's forward passes can run in it: a registered precision, or ``auto``."""
    if name == AUTO:
        return name
    try:
        return check_precision(name)
    except ConfigError as exc:
        raise ConfigError(f"{exc}, or {AUTO}") from None


def training_precision(name: str, device: torch.device) -> str:
    """The precision training's forward passes run in: ``auto`` is bf16 on CUDA, fp32 elsewhere."""
    if check_training_precision(name) == AUTO:
        return "bf16" if device.type == "cuda" else "fp32"
    return name


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The autocast ``precision`` asks for on ``device`` (none for fp32)."""
    dtype = PRECISIONS.get(precision)
    if dtype is None:
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device.type, dtype=getattr(torch, dtype))

"""The golden weights: deterministic tensors for an original-layout state_dict, on any machine, no download.

The recipe is the one the golden outputs in ``tests/data/original-snasnet`` were recorded with (see its README):
every key gets its own ``torch.Generator`` seeded from the seed and the key's CRC-32, so one tensor does not
depend on the others or on their order.
"""

from __future__ import annotations

import math
import zlib

import torch

#: weight scales relative to 1/sqrt(fan_in): large enough that every LIF layer of the golden network fires
CONV_GAIN = 2.5
LINEAR_GAIN = 12.0


def _tensor(key: str, shape: list[int], dtype: str, seed: int) -> torch.Tensor:
    if dtype.startswith("torch.int"):  # batch norm step counters
        return torch.zeros(shape, dtype=getattr(torch, dtype.removeprefix("torch.")))
    generator = torch.Generator().manual_seed(seed * 1000003 + zlib.crc32(key.encode()))
    leaf = key.rsplit(".", 1)[-1]
    if leaf == "weight" and len(shape) >= 2:  # convolutions and linear layers
        gain = CONV_GAIN if len(shape) == 4 else LINEAR_GAIN
        return torch.randn(shape, generator=generator) * gain / math.prod(shape[1:]) ** 0.5
    if leaf in ("weight", "running_var"):  # batch norm scales and variances: in [0.5, 1.5)
        return 0.5 + torch.rand(shape, generator=generator)
    return torch.randn(shape, generator=generator) * 0.2  # biases and running means


def make_state_dict(layout: dict[str, dict], seed: int = 7) -> dict[str, torch.Tensor]:
    """Weights for ``layout`` (key -> ``{"shape", "dtype"}``, as in ``*.layout.json``), keys sorted."""
    return {key: _tensor(key, layout[key]["shape"], layout[key]["dtype"], seed) for key in sorted(layout)}


def layout_of(state_dict: dict[str, torch.Tensor]) -> dict[str, dict]:
    """The layout of a state_dict, as ``*.layout.json`` writes it."""
    return {key: {"shape": list(value.shape), "dtype": str(value.dtype)} for key, value in state_dict.items()}

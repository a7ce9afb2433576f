"""The modules of the edge operations that torch has no ready layer for, in the original's layout (so
state_dict keys match): the zero edge and LIF -> conv -> batch norm."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from snasnet.network.neuron import LIFConfig, make_lif


class Zero(nn.Module):
    """Operation 0: no edge. The original multiplies by a zero scalar and adds the result; the reference
    path does the same, the fast path skips the edge (adding an exact zero changes nothing)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0.0


def spiking_conv(
    channels: int, kernel: int, lif: LIFConfig, norm: Callable[[int], nn.Module] = nn.BatchNorm2d
) -> nn.Sequential:
    """Operations 2 and 3: LIF -> conv (kernel x kernel, same size, no bias) -> batch norm (``norm(channels)``)."""
    return nn.Sequential(
        make_lif(lif),
        nn.Conv2d(channels, channels, kernel_size=kernel, stride=1, padding=kernel // 2, bias=False),
        norm(channels),
    )

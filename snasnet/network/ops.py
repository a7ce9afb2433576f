"""The five edge operations of a cell, one table: code (as the original's connection matrix numbers
them), name, whether the operation holds a LIF neuron (LIF -> conv -> batch norm), and its builder.

This module imports no torch (``snasnet.network.arch`` and the TUI's cell drawing read the table without it);
each builder imports the modules it builds when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry

if TYPE_CHECKING:
    from torch import nn

    from snasnet.network.neuron import LIFConfig


@dataclass(frozen=True)
class Operation:
    code: int
    name: str
    spiking: bool  # LIF -> conv -> BN: holds a neuron, a convolution and a batch norm
    #: (channels, lif settings, batch-norm builder: channels -> module) -> the edge's module
    build: Callable[[int, LIFConfig, Callable[[int], nn.Module]], nn.Module]


def _zero(channels: int, lif: LIFConfig, norm: Callable[[int], nn.Module]) -> nn.Module:
    from snasnet.network.edge_modules import Zero

    return Zero()


def _skip(channels: int, lif: LIFConfig, norm: Callable[[int], nn.Module]) -> nn.Module:
    from torch import nn

    return nn.Identity()


def _conv(kernel: int) -> Callable[[int, LIFConfig, Callable[[int], nn.Module]], nn.Module]:
    def build(channels: int, lif: LIFConfig, norm: Callable[[int], nn.Module]) -> nn.Module:
        from snasnet.network.edge_modules import spiking_conv

        return spiking_conv(channels, kernel, lif, norm)

    return build


def _avgpool(channels: int, lif: LIFConfig, norm: Callable[[int], nn.Module]) -> nn.Module:
    from torch import nn

    return nn.AvgPool2d(kernel_size=3, stride=1, padding=1)


#: the operations by name, in code order (codes 0-4).
OPERATIONS: Registry[Operation] = Registry("operation")
ZERO = OPERATIONS.add("zero", Operation(0, "zero", False, _zero)).code
SKIP = OPERATIONS.add("skip", Operation(1, "skip", False, _skip)).code
CONV1X1 = OPERATIONS.add("conv1x1", Operation(2, "conv1x1", True, _conv(1))).code
CONV3X3 = OPERATIONS.add("conv3x3", Operation(3, "conv3x3", True, _conv(3))).code
AVGPOOL = OPERATIONS.add("avgpool", Operation(4, "avgpool", False, _avgpool)).code

_BY_CODE = {OPERATIONS.get(name).code: OPERATIONS.get(name) for name in OPERATIONS.names()}
#: code -> name, e.g. for help texts: "0 zero, 1 skip, 2 conv1x1, 3 conv3x3, 4 avgpool".
OP_NAMES = {code: op.name for code, op in _BY_CODE.items()}
#: codes of the operations that hold a LIF neuron, a convolution and a batch norm.
SPIKING_OPS = tuple(code for code, op in _BY_CODE.items() if op.spiking)
OP_HELP = ", ".join(f"{code} {name}" for code, name in OP_NAMES.items())


def operation(code: int) -> Operation:
    """The operation of a connection-matrix entry; an unknown code is a ConfigError naming the valid ones."""
    try:
        return _BY_CODE[code]
    except (KeyError, TypeError):
        raise ConfigError(f"unknown operation code {code!r}: choose one of {OP_HELP}") from None


def is_spiking(code: int) -> bool:
    return operation(code).spiking


def build_op(code: int, channels: int, lif: LIFConfig, norm: Callable[[int], nn.Module] | None = None) -> nn.Module:
    """The module of one edge, ``code`` as in the connection matrix; ``norm`` builds its batch norm from the
    channels (default ``nn.BatchNorm2d``, the original's)."""
    if norm is None:
        from torch import nn

        norm = nn.BatchNorm2d
    return operation(code).build(channels, lif, norm)

"""Optimizers by name (registry), each with the learning rate it gets when it is chosen without one.

Entries import torch when they build, so front ends list the names without loading it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from snasnet.core.registry import Registry

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Optimizer:
    build: Callable[[Iterable[torch.nn.Parameter], Any], torch.optim.Optimizer]  # (parameters, TrainConfig)
    lr: float  # the default learning rate

    def __call__(self, params: Iterable[torch.nn.Parameter], config: Any) -> torch.optim.Optimizer:
        return self.build(params, config)


OPTIMIZERS: Registry[Optimizer] = Registry("optimizer")


def _sgd(params: Iterable[torch.nn.Parameter], c: Any) -> torch.optim.Optimizer:
    import torch

    return torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay)


def _adam(params: Iterable[torch.nn.Parameter], c: Any) -> torch.optim.Optimizer:
    import torch

    return torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay)


OPTIMIZERS.add("sgd", Optimizer(_sgd, lr=0.1))  # the original's
OPTIMIZERS.add("adam", Optimizer(_adam, lr=1e-3))

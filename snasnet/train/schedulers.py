"""Learning-rate schedules by name (registry); both as the original: stepped once per epoch.

Entries import torch when they build, so front ends list the names without loading it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from snasnet.core.registry import Registry

if TYPE_CHECKING:
    import torch

Scheduler = Callable[["torch.optim.Optimizer", Any], "torch.optim.lr_scheduler.LRScheduler"]  # (opt, TrainConfig)

SCHEDULERS: Registry[Scheduler] = Registry("scheduler")


@SCHEDULERS.register("cosine")
def cosine(opt: torch.optim.Optimizer, c: Any) -> torch.optim.lr_scheduler.LRScheduler:
    """Cosine from lr to 0.01 x lr over the epochs (the original's)."""
    import torch

    return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=c.epochs, eta_min=c.lr * 0.01)


@SCHEDULERS.register("step")
def step(opt: torch.optim.Optimizer, c: Any) -> torch.optim.lr_scheduler.LRScheduler:
    """x0.1 at 50% and at 75% of the epochs."""
    import torch

    return torch.optim.lr_scheduler.MultiStepLR(opt, milestones=[int(0.5 * c.epochs), int(0.75 * c.epochs)], gamma=0.1)

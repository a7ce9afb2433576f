"""The validation set a training run picks its best checkpoint on: a dataset's official validation split where it
has one, else images held out of the training split (``hold_out``), so that the test split is looked at once, for
the checkpoint already chosen.

    bundle = hold_out(get_dataset("digits"), 0.1, seed=0)   # bundle.val: 144 of digits' 1437 training images
    bundle.train, bundle.train_plain                        # the other 1293, augmented and plain

The held-out images are a seeded random sample (the same ``seed`` and dataset give the same images, whatever the
run's own seed, so runs with different seeds are selected on the same images); they are read without the training
augmentation (from ``train_plain``).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch.utils.data import Dataset, Subset

from snasnet.core.errors import DataError
from snasnet.data.datasets import DataBundle

#: the fraction of the training images held out when a dataset has no validation split of its own (the 45,000 /
#: 5,000 split of CIFAR's 50,000 training images that much of the literature uses)
DEFAULT_VAL_SPLIT = 0.1


class TrainingPart(Subset):
    """The images of a training split that were not held out. Passes ``set_epoch`` on to the split it is part of
    (``snasnet.data.datasets.Transformed``: each epoch's augmentation), which keeps seeding by its own index."""

    def set_epoch(self, epoch: int, seed: int | None = None) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch, seed=seed)


def held_out_indices(size: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """``(training, validation)`` indices of a split of ``size`` images: ``round(fraction * size)`` drawn at random
    with ``seed`` for validation, the rest for training; both in increasing order."""
    count = round(fraction * size)
    if not 0 < fraction < 1 or count < 1 or size - count < 2:
        raise DataError(
            f"--val-split {fraction:g} of {size} training images leaves {count} for validation and {size - count} "
            "for training: give a fraction in (0, 1) that leaves at least one image to validate on and two to train on"
        )
    order = torch.randperm(size, generator=torch.Generator().manual_seed(seed)).tolist()
    return sorted(order[count:]), sorted(order[:count])


def hold_out(bundle: DataBundle, fraction: float, seed: int = 0) -> DataBundle:
    """``bundle`` with ``fraction`` of its training images moved to ``val`` (see the module's docstring)."""
    plain: Dataset = bundle.search_set
    train_idx, val_idx = held_out_indices(len(plain), fraction, seed)
    return replace(
        bundle,
        train=TrainingPart(bundle.train, train_idx),
        train_plain=Subset(plain, train_idx),
        val=Subset(plain, val_idx),
    )

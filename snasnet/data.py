"""Datasets by name (registry): each gives train and test sets of ``(image [C, H, W], label)`` and the model
preset that fits them.

``digits`` (scikit-learn's bundled 8x8 handwritten digits) works offline and is the default for first runs
and end-to-end tests; ``synthetic`` is random data of any shape, for shape tests and benchmarks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.utils.data import Dataset, TensorDataset

from snasnet.errors import DataError


@dataclass
class DataBundle:
    """A dataset's splits and the sizes a model needs for them."""

    name: str
    train: Dataset
    test: Dataset
    preset: str  # the model preset made for this data
    in_channels: int
    image_size: int
    num_classes: int
    #: the training split without augmentation (what a search scores); defaults to ``train``
    train_plain: Dataset | None = None

    @property
    def search_set(self) -> Dataset:
        return self.train_plain if self.train_plain is not None else self.train


DatasetFactory = Callable[..., DataBundle]
_DATASETS: dict[str, DatasetFactory] = {}


def register_dataset(name: str) -> Callable[[DatasetFactory], DatasetFactory]:
    def register(factory: DatasetFactory) -> DatasetFactory:
        if name in _DATASETS:
            raise ValueError(f"dataset {name!r} is already registered")
        _DATASETS[name] = factory
        return factory

    return register


def list_datasets() -> list[str]:
    return sorted(_DATASETS)


def get_dataset(
    name: str, data_dir: str | os.PathLike | None = None, download: bool = False, **options: object
) -> DataBundle:
    """The named dataset. ``data_dir`` is where files are read (and downloaded to with ``download``);
    ``options`` are dataset-specific (e.g. ``synthetic``'s sizes)."""
    try:
        factory = _DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}: choose one of {', '.join(list_datasets())}") from None
    return factory(data_dir=data_dir, download=download, **options)


# --- digits --------------------------------------------------------------------------------------
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2


@register_dataset("digits")
def digits(data_dir: object = None, download: bool = False) -> DataBundle:
    """scikit-learn's 1797 8x8 digits (bundled: no download), a fixed stratified 80/20 split (seed 0),
    pixel values 0-16 scaled to [0, 1] and normalised with the training split's mean and std."""
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    bunch = load_digits()
    images = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(bunch.target, dtype=torch.long)
    train_idx, test_idx = train_test_split(
        list(range(len(labels))),
        test_size=DIGITS_TEST_FRACTION,
        random_state=DIGITS_SPLIT_SEED,
        stratify=bunch.target,
    )
    train_idx, test_idx = torch.tensor(train_idx), torch.tensor(test_idx)
    mean, std = images[train_idx].mean(), images[train_idx].std()
    images = (images - mean) / std
    train = TensorDataset(images[train_idx], labels[train_idx])
    test = TensorDataset(images[test_idx], labels[test_idx])
    return DataBundle("digits", train, test, "digits", in_channels=1, image_size=8, num_classes=10)


# --- synthetic -----------------------------------------------------------------------------------
@register_dataset("synthetic")
def synthetic(
    data_dir: object = None,
    download: bool = False,
    *,
    in_channels: int = 3,
    image_size: int = 32,
    num_classes: int = 10,
    train_size: int = 512,
    test_size: int = 128,
    seed: int = 0,
    preset: str = "cifar10",
) -> DataBundle:
    """Random normal images with random labels, the same for the same seed (CIFAR-10 shaped by default)."""
    g = torch.Generator().manual_seed(seed)

    def split(n: int) -> TensorDataset:
        x = torch.randn(n, in_channels, image_size, image_size, generator=g)
        y = torch.randint(0, num_classes, (n,), generator=g)
        return TensorDataset(x, y)

    return DataBundle("synthetic", split(train_size), split(test_size), preset, in_channels, image_size, num_classes)

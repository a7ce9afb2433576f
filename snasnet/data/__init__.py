"""Datasets by name: what every dataset shares (``datasets``: the bundle the jobs take, the registry, where
files are read), static images (``images``: digits, synthetic, CIFAR, TinyImageNet, image folders) and
event-camera frames (``events``: N-MNIST, DVS128 Gesture, CIFAR10-DVS, and digits-dvs made offline by
``digits_dvs``).

Imports ``snasnet.core`` and ``snasnet.network`` (for the presets each dataset fits). Importing the package
registers every dataset (images first, so ``list_datasets()`` ends with the event datasets); its names are
those the module ``snasnet.data`` offered before the package existed.
"""

from snasnet.data import events, images  # noqa: F401 (they register their datasets; images first: events imports it)
from snasnet.data.datasets import (
    DATA_ENV,
    DATASETS,
    DEFAULT_DATA_DIR,
    DataBundle,
    DatasetFactory,
    Transformed,
    data_root,
    get_dataset,
    list_datasets,
    register_dataset,
)
from snasnet.data.images import (
    CIFAR_PAGE,
    CIFAR_STATS,
    DIGITS_SPLIT_SEED,
    DIGITS_TEST_FRACTION,
    IMAGEFOLDER_TEST_SPLITS,
    IMAGENET_STATS,
    TINY_FOLDER,
    TINY_URL,
    LabelledImages,
    cifar10,
    cifar100,
    digits,
    imagefolder,
    synthetic,
    tinyimagenet,
)

__all__ = [
    "CIFAR_PAGE",
    "CIFAR_STATS",
    "DATA_ENV",
    "DATASETS",
    "DEFAULT_DATA_DIR",
    "DIGITS_SPLIT_SEED",
    "DIGITS_TEST_FRACTION",
    "IMAGEFOLDER_TEST_SPLITS",
    "IMAGENET_STATS",
    "TINY_FOLDER",
    "TINY_URL",
    "DataBundle",
    "DatasetFactory",
    "LabelledImages",
    "Transformed",
    "cifar10",
    "cifar100",
    "data_root",
    "digits",
    "get_dataset",
    "imagefolder",
    "list_datasets",
    "register_dataset",
    "synthetic",
    "tinyimagenet",
]

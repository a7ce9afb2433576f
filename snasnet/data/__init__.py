"""Datasets by name: static images (``images``: digits, synthetic, CIFAR, TinyImageNet, image folders) and
event-camera frames (``events``: N-MNIST, DVS128 Gesture, CIFAR10-DVS, and ``digits_dvs``, made offline).

Imports ``snasnet.core`` and ``snasnet.network`` (for the presets each dataset fits). Importing the package
registers every dataset; its names are those the module ``snasnet.data`` offered before the package existed.
"""

from snasnet.data.images import (
    CIFAR_PAGE,
    CIFAR_STATS,
    DATA_ENV,
    DATASETS,
    DEFAULT_DATA_DIR,
    DIGITS_SPLIT_SEED,
    DIGITS_TEST_FRACTION,
    IMAGEFOLDER_TEST_SPLITS,
    IMAGENET_STATS,
    TINY_FOLDER,
    TINY_URL,
    DataBundle,
    DatasetFactory,
    LabelledImages,
    Transformed,
    cifar10,
    cifar100,
    data_root,
    digits,
    get_dataset,
    imagefolder,
    list_datasets,
    register_dataset,
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

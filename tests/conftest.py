"""Shared fixtures: the golden outputs of the original implementation (kept in tests/data/original-snasnet)."""

from __future__ import annotations

import json
from pathlib import Path

import golden_weights
import numpy as np
import pytest
import torch

GOLDEN = Path(__file__).resolve().parent / "data" / "original-snasnet"
GOLDEN_ARCH = "0302 0030 3003 0000"
# the CIFAR-100 statistics the golden outputs were made with (golden README)
CIFAR100_MEAN = (0.5071, 0.4867, 0.4408)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)


@pytest.fixture(scope="session")
def golden_dir() -> Path:
    return GOLDEN


@pytest.fixture(scope="session")
def make_state_dict():
    """The golden weights generator, ``make_state_dict(layout, seed=7)`` (tests/golden_weights.py)."""
    return golden_weights


@pytest.fixture(scope="session")
def golden_layout(golden_dir: Path) -> dict:
    return json.loads((golden_dir / "cifar100_bw.layout.json").read_text())


@pytest.fixture(scope="session")
def golden_state_dict(make_state_dict, golden_layout) -> dict:
    return make_state_dict.make_state_dict(golden_layout)


@pytest.fixture(scope="session")
def golden_images(golden_dir: Path) -> torch.Tensor:
    """The 32 images as the original feeds them: ToTensor (contiguous CHW in [0, 1]) then Normalize."""
    images = np.load(golden_dir / "images_uint8_nhwc.npy")
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(CIFAR100_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR100_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


@pytest.fixture(scope="session")
def golden_expected(golden_dir: Path) -> dict:
    return torch.load(golden_dir / "cifar100_bw.expected.pt", weights_only=True)


@pytest.fixture
def one_thread():
    """One torch thread: for modules that run many small networks, which gain nothing from more threads and
    lose much when the cores are busy (and whose exact results depend on the thread count)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

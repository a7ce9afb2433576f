"""The offline datasets every other test relies on."""

import pytest
import torch

from snasnet.core.errors import DataError
from snasnet.data.datasets import get_dataset, list_datasets


def test_digits_split_is_fixed_and_normalised():
    a, b = get_dataset("digits"), get_dataset("digits")
    assert (len(a.train), len(a.test)) == (1437, 360)
    assert torch.equal(a.test.tensors[0], b.test.tensors[0])
    x = a.train.tensors[0]
    assert abs(float(x.mean())) < 1e-5 and abs(float(x.std()) - 1) < 1e-4
    assert a.train[0][0].shape == (1, 8, 8) and a.preset == "digits"
    assert sorted(a.test.tensors[1].unique().tolist()) == list(range(10))


def test_synthetic_is_seeded_and_sized():
    a = get_dataset("synthetic", image_size=16, in_channels=2, num_classes=4, train_size=10, seed=3)
    assert a.train[0][0].shape == (2, 16, 16) and len(a.train) == 10
    assert torch.equal(
        a.train.tensors[0],
        get_dataset("synthetic", image_size=16, in_channels=2, num_classes=4, train_size=10, seed=3).train.tensors[0],
    )


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(DataError, match="unknown dataset 'mnist': choose one of .*digits"):
        get_dataset("mnist")
    assert {"digits", "synthetic"} <= set(list_datasets())

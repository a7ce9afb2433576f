"""Datasets from files in their official layouts: CIFAR through torchvision's own loader, TinyImageNet's
val_annotations.txt, any class-per-folder tree; the original's transforms; clear errors for missing data."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision
from dataset_files import skip_cifar_md5, write_cifar10, write_cifar100, write_image, write_tinyimagenet
from torch.utils.data import DataLoader

from snasnet.core.errors import DataError
from snasnet.data.datasets import get_dataset
from snasnet.network.model import build_model

CIFAR10_MEAN = np.array([0.4913, 0.4821, 0.4465])
CIFAR10_STD = np.array([0.2470, 0.2434, 0.2615])


def test_cifar10_folder_loads_through_torchvision_with_the_originals_normalisation(tmp_path, monkeypatch):
    raw = write_cifar10(tmp_path)
    skip_cifar_md5(monkeypatch)
    bundle = get_dataset("cifar10", data_dir=tmp_path)
    assert isinstance(bundle.test, torchvision.datasets.CIFAR10)
    assert (len(bundle.train), len(bundle.test)) == (20, 16)
    assert (bundle.preset, bundle.in_channels, bundle.image_size, bundle.num_classes) == ("cifar10", 3, 32, 10)
    for i in (0, 7, 15):
        image, label = bundle.test[i]
        expected = (raw["images"][i] / 255.0 - CIFAR10_MEAN) / CIFAR10_STD  # HWC, by hand
        assert label == raw["labels"][i]
        assert image.shape == (3, 32, 32)
        np.testing.assert_allclose(image.permute(1, 2, 0).numpy(), expected, atol=1e-5)


def test_cifar_training_images_are_cropped_with_padding_4_and_flipped(tmp_path, monkeypatch):
    write_cifar10(tmp_path)
    skip_cifar_md5(monkeypatch)
    bundle = get_dataset("cifar10", data_dir=tmp_path)
    plain = bundle.train_plain[3][0]
    pad_value = torch.tensor((0 - CIFAR10_MEAN) / CIFAR10_STD, dtype=torch.float32).view(3, 1, 1)
    seen_shift = seen_flip = False
    for epoch in range(12):
        bundle.train.set_epoch(epoch)
        image = bundle.train[3][0]
        assert image.shape == (3, 32, 32)
        # every augmented image is the plain one shifted by at most 4 pixels (zero padding) and maybe mirrored
        found = False
        for flip in (False, True):
            src = plain.flip(-1) if flip else plain
            padded = pad_value.expand(3, 40, 40).clone()
            padded[:, 4:36, 4:36] = src
            for dy in range(9):
                for dx in range(9):
                    if torch.allclose(padded[:, dy : dy + 32, dx : dx + 32], image, atol=1e-6):
                        found = True
                        seen_shift |= (dy, dx) != (4, 4)
                        seen_flip |= flip
        assert found, f"epoch {epoch}: not a padded crop of the image"
    assert seen_shift and seen_flip


def test_augmentation_depends_on_seed_epoch_and_index_only(tmp_path, monkeypatch):
    write_cifar10(tmp_path, per_batch=8)
    skip_cifar_md5(monkeypatch)
    train = get_dataset("cifar10", data_dir=tmp_path).train
    train.set_epoch(5, seed=1)
    torch.manual_seed(0)
    first = torch.stack([train[i][0] for i in range(40)])
    torch.manual_seed(123)  # the global generator (dropout's) plays no part ...
    again = torch.stack([train[i][0] for i in reversed(range(40))]).flip(0)
    assert torch.equal(first, again)
    state = torch.get_rng_state()
    train[0]
    assert torch.equal(state, torch.get_rng_state())  # ... and is left as it was
    # nor does the worker that loads an image
    loaded = torch.cat([x for x, _ in DataLoader(train, batch_size=8, num_workers=2)])
    assert torch.equal(first, loaded)
    train.set_epoch(6, seed=1)
    assert not torch.equal(first, torch.stack([train[i][0] for i in range(40)]))


def test_cifar100_has_its_own_statistics_and_100_classes(tmp_path, monkeypatch):
    write_cifar100(tmp_path)
    skip_cifar_md5(monkeypatch)
    bundle = get_dataset("cifar100", data_dir=tmp_path)
    assert (bundle.num_classes, bundle.preset, len(bundle.train), len(bundle.test)) == (100, "cifar100", 6, 4)
    raw = bundle.test.data[1] / 255.0
    expected = (raw - np.array([0.5071, 0.4867, 0.4408])) / np.array([0.2673, 0.2564, 0.2762])
    np.testing.assert_allclose(bundle.test[1][0].permute(1, 2, 0).numpy(), expected, atol=1e-5)


def test_missing_cifar_says_where_it_looked_and_how_to_get_it(tmp_path):
    with pytest.raises(DataError) as info:
        get_dataset("cifar10", data_dir=tmp_path / "nowhere")
    message = str(info.value)
    assert "\n" not in message
    assert str((tmp_path / "nowhere" / "cifar-10-batches-py").resolve()) in message
    assert "--download" in message and "cifar-10-python.tar.gz" in message


def test_default_data_folder_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SNASNET_DATA", str(tmp_path / "shared"))
    with pytest.raises(DataError, match="shared/cifar-100-python"):
        get_dataset("cifar100")


def test_files_that_fail_torchvisions_md5_check_are_refused(tmp_path):
    write_cifar10(tmp_path)  # not the official bytes, and no patch this time
    with pytest.raises(DataError, match="incomplete or corrupted"):
        get_dataset("cifar10", data_dir=tmp_path)


def test_tinyimagenet_labels_validation_images_from_val_annotations(tmp_path):
    write_tinyimagenet(tmp_path)
    bundle = get_dataset("tinyimagenet", data_dir=tmp_path)
    assert (bundle.num_classes, bundle.image_size, bundle.preset) == (2, 64, "tinyimagenet")
    assert [label for _, label in bundle.test] == [1, 0, 1]  # wnids sorted: n01443537 -> 0, n01629819 -> 1
    image = bundle.test[2][0]
    expected = (20 / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    assert image.shape == (3, 64, 64)
    np.testing.assert_allclose(image[:, 10, 10].numpy(), expected, atol=0.02)  # JPEG is lossy
    # training images, the grayscale one included, come out RGB, 64x64
    assert {tuple(bundle.train[i][0].shape) for i in range(len(bundle.train))} == {(3, 64, 64)}
    assert sorted(label for _, label in bundle.train_plain) == [0, 0, 1, 1]
    # the folder itself may be given
    assert len(get_dataset("tinyimagenet", data_dir=tmp_path / "tiny-imagenet-200").test) == 3


def test_missing_tinyimagenet_names_the_folder_and_the_archive(tmp_path):
    with pytest.raises(DataError, match=r"looked for .*tiny-imagenet-200/train; download .*tiny-imagenet-200\.zip"):
        get_dataset("tinyimagenet", data_dir=tmp_path)


def test_imagefolder_reads_any_class_tree_and_sizes_the_network(tmp_path):
    for split, n in (("train", 2), ("val", 1)):
        for c, name in enumerate(("cat", "dog", "eel")):
            for i in range(n):
                write_image(tmp_path / split / name / f"{i}.png", 20, 60 * c)
    bundle = get_dataset("imagefolder", data_dir=tmp_path, image_size=16)
    assert (len(bundle.train), len(bundle.test), bundle.num_classes) == (6, 3, 3)
    assert bundle.test[2][0].shape == (3, 16, 16) and bundle.test[2][1] == 2
    overrides = bundle.model_overrides()
    assert overrides == {"in_channels": 3, "image_size": 16, "num_classes": 3, "final_neurons": 15}
    model = build_model(bundle.preset, "0302 0030 3003 0000", channels=8, classifier_width=16, **overrides)
    assert model(torch.stack([bundle.test[i][0] for i in range(3)])).shape == (3, 3)


def test_an_imagefolder_with_val_and_test_validates_on_val_and_tests_on_test(tmp_path):
    """Issue 28: a tree with its own validation split keeps it apart from the test split; training then holds out
    no training images (and one without a validation split holds out 10%)."""
    from snasnet.train.recipe import train_config
    from snasnet.train.trainer import validation_split

    for split, n in (("train", 4), ("val", 2), ("test", 1)):
        for c, name in enumerate(("cat", "dog")):
            for i in range(n):
                write_image(tmp_path / split / name / f"{i}.png", 20, 60 * c)
    bundle = get_dataset("imagefolder", data_dir=tmp_path, image_size=8)
    assert (len(bundle.train), len(bundle.val), len(bundle.test)) == (8, 4, 2)
    assert "val" in bundle.val.root and "test" in bundle.test.root
    config, split, val = validation_split(train_config("imagefolder", data_dir=str(tmp_path)), bundle)
    assert config.val_split == 0.0 and val is bundle.val and len(split.train) == 8
    config, split, val = validation_split(train_config("imagefolder", val_split=0.25), bundle)
    assert (config.val_split, len(split.train), len(val)) == (0.25, 6, 2)  # asked for: held out all the same
    digits = get_dataset("digits", shift=1)
    assert digits.val is None
    config, split, val = validation_split(train_config("digits"), digits)
    assert (config.val_split, len(split.train), len(split.train_plain), len(val)) == (0.1, 1293, 1293, 144)
    assert len(split.test) == 360 and len(split.search_set) == 1293
    # the held-out images are read without the training augmentation, the trained ones with it
    assert torch.equal(val[0][0], digits.train_plain[val.indices[0]][0])
    split.train.set_epoch(3, seed=0)
    assert split.train.dataset.epoch == 3


def test_imagefolder_with_different_classes_in_train_and_val_is_refused(tmp_path):
    write_image(tmp_path / "train" / "cat" / "0.png", 8, 0)
    write_image(tmp_path / "test" / "dog" / "0.png", 8, 0)
    with pytest.raises(DataError, match="class folders .* differ"):
        get_dataset("imagefolder", data_dir=tmp_path)
    with pytest.raises(DataError, match="needs --data-dir"):
        get_dataset("imagefolder")


def test_options_a_dataset_does_not_take_are_refused():
    with pytest.raises(DataError, match="dataset 'digits' does not take the option.*image_size"):
        get_dataset("digits", image_size=16)


def test_digits_shift_moves_training_images_by_at_most_a_pixel_over_blank_background():
    plain, shifted = get_dataset("digits"), get_dataset("digits", shift=1)
    assert torch.equal(shifted.test.tensors[0], plain.test.tensors[0])  # the test split is never augmented
    assert torch.equal(shifted.train_plain.tensors[0], plain.train.tensors[0])
    image = plain.train.tensors[0][5]
    blank = plain.train.tensors[0].min()  # a 0 pixel, normalised
    padded = torch.nn.functional.pad(image, (1, 1, 1, 1), value=float(blank))
    offsets = set()
    for epoch in range(10):
        shifted.train.set_epoch(epoch)
        moved = shifted.train[5][0]
        found = [
            (dy, dx) for dy in range(3) for dx in range(3) if torch.allclose(padded[:, dy : dy + 8, dx : dx + 8], moved)
        ]
        assert found, f"epoch {epoch}: not a shift of the image"
        offsets.add(found[0])
    assert len(offsets) > 1


def test_imagefolder_reads_the_folder_in_snasnet_data_when_no_data_dir_is_given(tmp_path, monkeypatch):
    """The help says --data-dir defaults to $SNASNET_DATA; imagefolder used to refuse to start without it."""
    for split in ("train", "val"):
        for c, name in enumerate(("cat", "dog")):
            write_image(tmp_path / "tree" / split / name / "0.png", 12, 90 * c)
    monkeypatch.setenv("SNASNET_DATA", str(tmp_path / "tree"))
    bundle = get_dataset("imagefolder", image_size=8)
    assert (len(bundle.train), len(bundle.test), bundle.num_classes) == (2, 2, 2)
    monkeypatch.setenv("SNASNET_DATA", str(tmp_path / "elsewhere"))
    with pytest.raises(DataError, match=r"looked for .*elsewhere/train"):
        get_dataset("imagefolder")

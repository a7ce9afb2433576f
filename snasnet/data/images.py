"""Static image datasets, each registered by name (``snasnet.data.datasets``): train and test sets of
``(image [C, H, W], label)`` and the model preset that fits them (the event datasets are in
``snasnet.data.events``).

``cifar10``, ``cifar100`` (torchvision's loaders), ``tinyimagenet`` (the standard ``tiny-imagenet-200``
folder) and ``imagefolder`` (any class-per-folder tree) read files from ``data_dir`` (default ``$SNASNET_DATA``,
else ``./data``), with the original's augmentation and normalisation. ``digits`` (scikit-learn's bundled 8x8
handwritten digits) works offline and is the default for first runs and end-to-end tests; ``synthetic`` is
random data of any shape, for shape tests and benchmarks. A dataset that is missing raises a DataError
that says where it was looked for and how to get it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.data import Dataset, TensorDataset

from snasnet.core.errors import DataError
from snasnet.data.datasets import DATA_ENV, DataBundle, Transformed, data_root, register_dataset

# --- digits --------------------------------------------------------------------------------------
DIGITS_SPLIT_SEED = 0
DIGITS_TEST_FRACTION = 0.2


@register_dataset("digits")
def digits(data_dir: object = None, download: bool = False, *, shift: int = 0) -> DataBundle:
    """scikit-learn's 1797 8x8 digits (bundled: no download), a fixed stratified 80/20 split (seed 0),
    pixel values 0-16 scaled to [0, 1] and normalised with the training split's mean and std. ``shift``:
    training images moved by up to that many pixels (a random crop of the image padded with background),
    the augmentation that keeps a network this size from learning the 1437 training images by heart."""
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
    if shift < 0:
        raise DataError(f"digits: shift must be >= 0 (got {shift})")
    augmented = train
    if shift:
        from torchvision.transforms import RandomCrop

        background = float(-mean / std)  # a blank pixel, normalised
        augmented = Transformed(train, RandomCrop(8, padding=shift, fill=background))
    preprocessing = image_preprocessing("8x8 grayscale, pixel values 0-16 (scikit-learn's load_digits)", "1/16",
                                        (float(mean),), (float(std),))  # fmt: skip
    return DataBundle(
        "digits", augmented, test, "digits", in_channels=1, image_size=8, num_classes=10, train_plain=train,
        preprocessing=preprocessing,
    )  # fmt: skip


def image_preprocessing(
    input_kind: str, scale: str, mean: tuple[float, ...], std: tuple[float, ...], resize: str = ""
) -> dict[str, str]:
    """A DataBundle's ``preprocessing``: ``(pixel * scale - mean) / std`` per channel, NCHW."""
    return {
        "input_kind": f"{input_kind}, NCHW float32" + (f"; {resize}" if resize else ""),
        "scale": scale,
        "mean": json.dumps([round(m, 6) for m in mean]),
        "std": json.dumps([round(s, 6) for s in std]),
        "formula": "(pixel * scale - mean) / std, per channel",
    }


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

    return DataBundle("synthetic", split(train_size), split(test_size), preset, in_channels, image_size, num_classes,
                      preprocessing={"input_kind": "random normal images (synthetic)", "formula": "none"})  # fmt: skip


# --- CIFAR-10 / CIFAR-100 ------------------------------------------------------------------------
# The original's transforms and normalisation constants.
CIFAR_STATS = {
    "cifar10": ((0.4913, 0.4821, 0.4465), (0.2470, 0.2434, 0.2615)),
    "cifar100": ((0.5071, 0.4867, 0.4408), (0.2673, 0.2564, 0.2762)),
}
IMAGENET_STATS = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CIFAR_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"


def _normalised(mean: tuple, std: tuple, *first: Callable) -> Callable:
    from torchvision import transforms

    return transforms.Compose([*first, transforms.ToTensor(), transforms.Normalize(mean, std)])


def _augmented(size: int, padding: int, mean: tuple, std: tuple, *first: Callable) -> Callable:
    """The original's training augmentation: random crop with zero padding, horizontal flip."""
    from torchvision import transforms

    return _normalised(
        mean, std, *first, transforms.RandomCrop(size, padding=padding), transforms.RandomHorizontalFlip()
    )


def _cifar(name: str, data_dir: str | os.PathLike | None, download: bool) -> DataBundle:
    from torchvision import datasets

    loader = {"cifar10": datasets.CIFAR10, "cifar100": datasets.CIFAR100}[name]
    title = name.upper().replace("CIFAR", "CIFAR-")
    root = data_root(data_dir)
    folder = root / loader.base_folder
    if download:
        try:
            loader(root, train=True, download=True)
        except OSError as exc:  # URLError and socket errors are OSErrors
            raise DataError(
                f"could not download {title} from {loader.url} ({getattr(exc, 'reason', exc)}): download "
                f"{loader.filename} by other means and extract it into {root}"
            ) from None
    if not folder.is_dir():
        raise DataError(
            f"{title} not found: looked for {folder.resolve()}; add --download (needs internet), or download "
            f"{loader.url} ({CIFAR_PAGE}) and extract it into {root.resolve()} (or point --data-dir at the folder "
            f"that holds {loader.base_folder})"
        )
    try:
        plain = loader(root, train=True)
        test = loader(root, train=False, transform=_normalised(*CIFAR_STATS[name]))
    except RuntimeError:  # torchvision: "Dataset not found or corrupted"
        raise DataError(
            f"{title} in {folder.resolve()} is incomplete or corrupted (torchvision's md5 check of its files "
            "failed): delete the folder and add --download, or extract the official archive again"
        ) from None
    mean, std = CIFAR_STATS[name]
    classes = len(plain.classes)
    return DataBundle(
        name,
        Transformed(plain, _augmented(32, 4, mean, std)),
        test,
        name,
        in_channels=3,
        image_size=32,
        num_classes=classes,
        train_plain=Transformed(plain, _normalised(mean, std)),
        preprocessing=image_preprocessing("32x32 RGB, pixel values 0-255", "1/255", mean, std),
    )


@register_dataset("cifar10", files=lambda root: root / "cifar-10-batches-py")  # torchvision's base_folder
def cifar10(data_dir: str | os.PathLike | None = None, download: bool = False) -> DataBundle:
    """CIFAR-10 (``cifar-10-batches-py`` in ``data_dir``) through torchvision's loader."""
    return _cifar("cifar10", data_dir, download)


@register_dataset("cifar100", files=lambda root: root / "cifar-100-python")
def cifar100(data_dir: str | os.PathLike | None = None, download: bool = False) -> DataBundle:
    """CIFAR-100 (``cifar-100-python`` in ``data_dir``) through torchvision's loader."""
    return _cifar("cifar100", data_dir, download)


# --- TinyImageNet --------------------------------------------------------------------------------
TINY_FOLDER = "tiny-imagenet-200"
TINY_URL = "http://cs231n.stanford.edu/tiny-imagenet-200.zip"


class LabelledImages(Dataset):
    """Image files with known labels, loaded as RGB the way torchvision's ImageFolder loads them."""

    def __init__(self, samples: list[tuple[str, int]], transform: Callable | None = None) -> None:
        self.samples, self.transform = samples, transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[object, int]:
        from torchvision.datasets.folder import default_loader

        path, label = self.samples[index]
        image = default_loader(path)
        return (self.transform(image) if self.transform else image), label


def _image_folder(path: Path, what: str, transform: Callable | None = None) -> Dataset:
    from torchvision.datasets import ImageFolder

    try:
        return ImageFolder(str(path), transform=transform)
    except FileNotFoundError as exc:
        raise DataError(f"{what}: {path} holds no class folders with images ({exc})") from None


def _tiny_val(folder: Path, class_to_idx: dict[str, int], transform: Callable) -> Dataset:
    """The validation split: ``val/images/*.JPEG`` labelled by ``val/val_annotations.txt`` (file, wnid, box),
    or, when the folder was reorganised, ``val/<wnid>/...``."""
    annotations = folder / "val" / "val_annotations.txt"
    if not annotations.is_file():
        val = _image_folder(folder / "val", f"TinyImageNet validation split (no {annotations})", transform)
        if val.class_to_idx != class_to_idx:
            raise DataError(f"TinyImageNet: the class folders of {folder / 'val'} differ from those of train/")
        return val
    samples = []
    for number, line in enumerate(annotations.read_text().splitlines(), 1):
        parts = line.split("\t")
        if not line.strip():
            continue
        if len(parts) < 2 or parts[1] not in class_to_idx:
            raise DataError(f"{annotations}, line {number}: expected 'file<TAB>wnid...' with a wnid of train/")
        samples.append((str(folder / "val" / "images" / parts[0]), class_to_idx[parts[1]]))
    return LabelledImages(samples, transform)


def _tiny_folder(root: Path) -> Path:
    """``tiny-imagenet-200`` under the data root, or the root itself when it is that folder."""
    return root if (root / "wnids.txt").is_file() else root / TINY_FOLDER


@register_dataset("tinyimagenet", files=lambda root: _tiny_folder(root) / "train")
def tinyimagenet(data_dir: str | os.PathLike | None = None, download: bool = False) -> DataBundle:
    """The standard ``tiny-imagenet-200`` folder (``train/<wnid>/images/``, ``val/val_annotations.txt``) in
    ``data_dir`` (or ``data_dir`` itself), 64x64, the original's augmentation and ImageNet normalisation."""
    root = data_root(data_dir)
    folder = _tiny_folder(root)
    how = f"download {TINY_URL} and unzip it into {root.resolve()} (choose the folder with --data-dir)"
    if download and not folder.is_dir():
        raise DataError(f"TinyImageNet is not downloaded by snasnet: {how}")
    if not (folder / "train").is_dir():
        raise DataError(f"TinyImageNet not found: looked for {(folder / 'train').resolve()}; {how}")
    mean, std = IMAGENET_STATS
    plain = _image_folder(folder / "train", "TinyImageNet training split")
    test = _tiny_val(folder, plain.class_to_idx, _normalised(mean, std))
    return DataBundle(
        "tinyimagenet",
        Transformed(plain, _augmented(64, 8, mean, std)),
        test,
        "tinyimagenet",
        in_channels=3,
        image_size=64,
        num_classes=len(plain.classes),
        train_plain=Transformed(plain, _normalised(mean, std)),
        preprocessing=image_preprocessing("64x64 RGB, pixel values 0-255", "1/255", mean, std),
    )


# --- any class-per-folder tree -------------------------------------------------------------------
IMAGEFOLDER_TEST_SPLITS = ("val", "test")


@register_dataset("imagefolder", files=lambda root: root / "train")
def imagefolder(
    data_dir: str | os.PathLike | None = None, download: bool = False, *, image_size: int = 32
) -> DataBundle:
    """``data_dir/train/<class>/<image>`` and ``data_dir/val/<class>/...`` or ``test/`` (``data_dir`` defaults to
    ``$SNASNET_DATA``); with both, ``val/`` is the validation split and ``test/`` the test split, else the one
    there is the test split. RGB images resized and centre-cropped to ``image_size``, augmented like CIFAR (crop
    with padding size/8, flip), ImageNet normalisation; the cifar100 preset's widths with 5 output neurons per
    class."""
    from torchvision import transforms

    if data_dir is None and not os.environ.get(DATA_ENV):  # ./data holds the other datasets, not a class tree
        raise DataError(
            f"imagefolder needs --data-dir DIR (or ${DATA_ENV}) holding train/<class>/<images> and val/<class>/<images>"
        )
    root = data_root(data_dir)
    splits = [root / s for s in IMAGEFOLDER_TEST_SPLITS if (root / s).is_dir()]
    if not (root / "train").is_dir() or not splits:
        raise DataError(
            f"imagefolder: looked for {(root / 'train').resolve()} and {root.resolve()}/val (or test/), each "
            "with one folder of images per class"
        )
    if image_size < 1:
        raise DataError(f"image_size must be positive (got {image_size})")
    mean, std = IMAGENET_STATS
    resize = (transforms.Resize(image_size), transforms.CenterCrop(image_size))
    plain = _image_folder(root / "train", "imagefolder training split")
    # test/ when there is one, and val/ beside it the validation split
    test, *val = (
        _image_folder(s, f"imagefolder {s.name} split", _normalised(mean, std, *resize)) for s in splits[::-1]
    )
    for split, images in zip(splits[::-1], (test, *val), strict=True):
        if images.classes != plain.classes:
            raise DataError(f"imagefolder: the class folders of {split} differ from those of {root / 'train'}")
    return DataBundle(
        "imagefolder",
        Transformed(plain, _augmented(image_size, max(1, image_size // 8), mean, std, *resize)),
        test,
        "cifar100",
        in_channels=3,
        image_size=image_size,
        num_classes=len(plain.classes),
        train_plain=Transformed(plain, _normalised(mean, std, *resize)),
        val=val[0] if val else None,
        preprocessing=image_preprocessing(
            "RGB, pixel values 0-255", "1/255", mean, std, f"resized (shorter side) and centre-cropped to {image_size}"
        ),
    )

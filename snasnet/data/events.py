"""Event-camera datasets by name (registry ``EVENT_DATASETS``): train and test sets of
``(frames, label)``, where ``frames`` is a float32 tensor ``[T, C, H, W]`` per sample (T time bins, C = 2
polarities: OFF, ON; so a DataLoader batch is ``[B, T, C, H, W]``), each value the number of events of that
polarity at that pixel in that time bin.

``nmnist``, ``dvsgesture`` and ``cifar10dvs`` are read by tonic's own dataset classes from their folders in
``data_dir`` (default ``$SNASNET_DATA``, else ``./data``; tonic's layout: ``<data_dir>/NMNIST/Train`` ...), and
downloaded there by tonic with ``download=True``. The events become T frames with tonic's
``ToFrame(n_time_bins=T)`` (after ``Downsample`` when a smaller ``image_size`` is asked for), converted once and
cached on disk by tonic's ``DiskCachedDataset`` under ``<data_dir>/snasnet-cache/``, since converting events
every epoch is the slow part. ``digits-dvs`` (snasnet.data.digits_dvs) is made offline from scikit-learn's digits.
A dataset that is missing raises a DataError that says where it was looked for and how to get it.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from snasnet.core.errors import DataError
from snasnet.core.registry import Registry
from snasnet.data.datasets import DataBundle, Transformed, data_root, register_dataset
from snasnet.data.digits_dvs import CameraSettings, load_recordings
from snasnet.data.images import DIGITS_SPLIT_SEED, DIGITS_TEST_FRACTION  # digits-dvs keeps digits' split
from snasnet.network.presets import get_preset

CACHE_FOLDER = "snasnet-cache"


@dataclass
class EventBundle:
    """An event dataset's splits of ``(frames [T, C, H, W] float32, label)`` and the sizes a model needs."""

    name: str
    train: Dataset
    test: Dataset
    timesteps: int  # T: frames per sample
    in_channels: int  # C: 2 polarities
    image_size: int  # H = W
    num_classes: int
    classes: list[str]
    #: the training split without augmentation (what a search scores); defaults to ``train``
    train_plain: Dataset | None = None

    @property
    def search_set(self) -> Dataset:
        return self.train_plain if self.train_plain is not None else self.train

    def data_bundle(self) -> DataBundle:
        """The DataBundle the jobs (train, eval, search, export) take: the frames preset of the same name."""
        return DataBundle(
            self.name,
            self.train,
            self.test,
            self.name,
            self.in_channels,
            self.image_size,
            self.num_classes,
            train_plain=self.train_plain,
            timesteps=self.timesteps,
            preprocessing={
                "input_kind": f"event frames [T={self.timesteps}, 2 polarities, {self.image_size}, {self.image_size}]: "
                "events counted per polarity and pixel in T time bins (tonic's ToFrame(n_time_bins=T)), float32",
                "formula": "none: the counts as they are",
            },
        )


@dataclass(frozen=True)
class EventDataset:
    """A registered event dataset: the T and frame size it uses by default (the literature's, ``source``),
    its sensor, and the function that loads it."""

    name: str
    load: Callable[..., EventBundle]
    timesteps: int
    image_size: int
    sensor_size: tuple[int, int, int]  # tonic's (W, H, polarities)
    source: str  # where the default T and size come from
    augmentation: str  # what training applies, and the source


EVENT_DATASETS: Registry[EventDataset] = Registry("event dataset", error=DataError)


def register_event_dataset(
    name: str,
    *,
    sensor_size: tuple[int, int, int],
    source: str,
    augmentation: str,
    folder: str | None = None,
) -> Callable[[Callable[..., EventBundle]], Callable[..., EventBundle]]:
    """Decorator: ``load(spec, root, download, timesteps, image_size, **options)`` as the dataset ``name``. Its
    default T and frame size are those of the frames preset of the same name (snasnet.network.presets), so the data
    and the network it feeds are stated in one place. ``folder``: the folder under the data root that holds its
    recordings (tonic's: the class's name), None for one generated offline."""

    def add(load: Callable[..., EventBundle]) -> Callable[..., EventBundle]:
        preset = get_preset(name)
        spec = EventDataset(name, load, preset.timesteps, preset.image_size, sensor_size, source, augmentation)
        EVENT_DATASETS.add(name, spec)
        files = None if folder is None else lambda root: _tonic_root(root, folder) / folder
        register_dataset(name, files=files)(_job_dataset(name))
        return load

    return add


def list_event_datasets() -> list[str]:
    return EVENT_DATASETS.names()


def get_event_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    *,
    timesteps: int | None = None,
    image_size: int | None = None,
    **options: object,
) -> EventBundle:
    """The named event dataset as frames: ``timesteps`` bins of ``image_size`` x ``image_size`` pixels (the
    registry's literature settings by default). ``data_dir`` and ``download`` as for
    ``snasnet.data.datasets.get_dataset``."""
    spec = EVENT_DATASETS.get(name)
    timesteps = spec.timesteps if timesteps is None else timesteps
    image_size = spec.image_size if image_size is None else image_size
    if timesteps < 1 or not 1 <= image_size <= min(spec.sensor_size[:2]):
        raise DataError(
            f"{name}: timesteps must be >= 1 and image_size between 1 and the sensor's "
            f"{min(spec.sensor_size[:2])} (got {timesteps} and {image_size})"
        )
    root = data_root(data_dir)
    try:
        inspect.signature(spec.load).bind(spec, root, download, timesteps, image_size, **options)
    except TypeError:
        raise DataError(f"event dataset {name!r} does not take the option(s) {', '.join(sorted(options))}") from None
    return spec.load(spec, root, download, timesteps, image_size, **options)


def _job_dataset(name: str) -> Callable[..., DataBundle]:
    """The event dataset ``name`` as an entry of ``snasnet.data.datasets.DATASETS`` (what ``--dataset`` names)."""

    def load(
        data_dir: str | os.PathLike | None = None,
        download: bool = False,
        *,
        timesteps: int | None = None,
        image_size: int | None = None,
        **options: object,
    ) -> DataBundle:
        bundle = get_event_dataset(name, data_dir, download, timesteps=timesteps, image_size=image_size, **options)
        return bundle.data_bundle()

    load.__doc__ = f"The event dataset {name} as frames (snasnet.data.events.get_event_dataset)."
    return load


# --- events -> frames ----------------------------------------------------------------------------
def to_frames(sensor_size: tuple[int, int, int], timesteps: int, image_size: int) -> Callable:
    """tonic's transform from a sample's events to ``[T, 2, image_size, image_size]`` counts (int16):
    ``Downsample`` to ``image_size`` when it is smaller than the sensor, then ``ToFrame(n_time_bins=T)``.
    ToFrame splits the span from the first to the last event into T bins of ``(t_last - t_first) // T``
    microseconds; the events after the last whole bin (at least the last event) fall out."""
    from tonic import transforms

    steps = []
    if image_size != sensor_size[0]:
        steps.append(transforms.Downsample(spatial_factor=image_size / sensor_size[0]))
    steps.append(transforms.ToFrame(sensor_size=(image_size, image_size, sensor_size[2]), n_time_bins=timesteps))
    return transforms.Compose(steps)


class FrameTensors(Dataset):
    """``(frames, label)`` of a tonic dataset (or its cache), as a float32 tensor and an int."""

    def __init__(self, base: Dataset) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        frames, label = self.base[index]
        return torch.as_tensor(np.asarray(frames), dtype=torch.float32), int(label)


def cached_frames(dataset: Dataset, root: Path, name: str, split: str, timesteps: int, image_size: int) -> Dataset:
    """``dataset``'s frames through tonic's DiskCachedDataset: converted on first access, read from
    ``<root>/snasnet-cache/<name>-T<T>-<size>px/<split>-<samples>/`` after that. The cache knows samples by
    index only: one folder per setting and per number of samples, so that neither another transform nor files
    added to the dataset (a download completed) read frames of other samples."""
    from tonic import DiskCachedDataset

    folder = root / CACHE_FOLDER / f"{name}-T{timesteps}-{image_size}px" / f"{split}-{len(dataset)}"
    return FrameTensors(DiskCachedDataset(dataset, cache_path=str(folder)))


class RandomRoll:
    """Training augmentation on ``[T, C, H, W]`` frames, the same for every frame of a sample: a horizontal
    flip with probability 1/2 (``flip``) and a circular shift by up to ``max_shift`` pixels in each direction
    (``torch.roll``). Draws from torch's generator (``snasnet.data.datasets.Transformed`` seeds it per sample)."""

    def __init__(self, max_shift: int, flip: bool) -> None:
        self.max_shift, self.flip = max_shift, flip

    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        if self.flip and torch.rand(()) < 0.5:
            frames = frames.flip(-1)
        dy, dx = torch.randint(-self.max_shift, self.max_shift + 1, (2,)).tolist()
        return frames.roll((dy, dx), dims=(-2, -1))


# --- tonic's datasets ----------------------------------------------------------------------------
_OFFLINE: dict[str, type] = {}


def _offline(cls: type) -> type:
    """tonic's class, except that it never downloads by itself: tonic downloads whenever the archive is
    not beside the extracted files or there are fewer than a full dataset's (10000 for N-MNIST); here
    ``--download`` decides. Same ``__name__``, so the same folder (``<data_dir>/<class name>``)."""
    qualname = f"Offline{cls.__name__}"
    if qualname not in _OFFLINE:
        members = {"_check_exists": lambda self: True, "__module__": __name__, "__qualname__": qualname,
                   "__getitem__": _naming_the_file}  # fmt: skip
        _OFFLINE[qualname] = type(cls.__name__, (cls,), members)
    return _OFFLINE[qualname]


def _naming_the_file(self: Dataset, index: int) -> tuple:
    """tonic's sample ``index``, or a DataError naming its file: a damaged recording raised whatever its reader
    met (IndexError for an N-MNIST .bin of random bytes, RuntimeError "invalid utf-8" for a CIFAR10-DVS .aedat4)."""
    if not -len(self) <= index < len(self):  # the end of `for x in dataset` (its protocol: IndexError), not damage
        raise IndexError(f"sample {index} of {len(self)}")
    try:
        sample = super(type(self), self).__getitem__(index)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise DataError(f"{_file(self, index)} is not a readable {type(self).__name__} recording ({reason}): "
                        "replace or remove it") from None  # fmt: skip
    frames = sample[0] if isinstance(sample, tuple) and sample else None
    if isinstance(frames, np.ndarray) and frames.dtype.fields is not None:  # ToFrame hands back 0 events unframed
        raise DataError(f"{_file(self, index)} holds no events: replace or remove it")
    return sample


def _file(dataset: Dataset, index: int) -> str:
    files = getattr(dataset, "data", None)
    return str(files[index]) if isinstance(files, list) and 0 <= index < len(files) else f"sample {index}"


def __getattr__(name: str) -> type:
    """``OfflineNMNIST`` ...: how pickle finds the classes ``_offline`` makes (DataLoader workers that spawn)."""
    if name.startswith("Offline"):
        from tonic import datasets

        return _offline(getattr(datasets, name.removeprefix("Offline")))
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _tonic_split(
    cls: type, root: Path, folder: Path, suffix: str, download: bool, missing: str, **split: object
) -> Dataset:
    """One split of tonic dataset ``cls`` under ``root``: downloaded by tonic if asked and ``folder`` holds
    no ``*suffix`` file yet, then read by tonic from the files there."""
    if download and not any(folder.rglob(f"*{suffix}")):
        try:
            cls(str(root), **split)
        except (OSError, RuntimeError) as exc:  # URLError and socket errors are OSErrors; md5 mismatches not
            raise DataError(f"could not download {cls.__name__} ({getattr(exc, 'reason', exc)}): {missing}") from None
    if not any(folder.rglob(f"*{suffix}")):
        raise DataError(f"{missing}")
    return _offline(cls)(str(root), **split)


def _tonic_root(root: Path, folder_name: str) -> Path:
    """tonic reads ``<save_to>/<class name>``: ``data_dir`` may also be that folder itself."""
    return root.parent if root.name == folder_name else root


def _bundle(
    spec: EventDataset,
    plain: Dataset,
    test: Dataset,
    timesteps: int,
    image_size: int,
    classes: list[str],
    augment: Callable | None = None,
) -> EventBundle:
    return EventBundle(
        spec.name,
        Transformed(plain, augment) if augment else plain,
        test,
        timesteps,
        in_channels=spec.sensor_size[2],
        image_size=image_size,
        num_classes=len(classes),
        classes=classes,
        train_plain=plain,
    )


def _train_and_test(
    cls: type,
    spec: EventDataset,
    root: Path,
    download: bool,
    timesteps: int,
    image_size: int,
    suffix: str,
    folders: tuple[str, str],
    missing: Callable[[Path, bool], str],
) -> tuple[Dataset, Dataset]:
    """The cached frames of tonic dataset ``cls``'s training and test splits (``train=True/False``), whose files
    (``*suffix``) tonic keeps in ``<root>/<class name>/<folder>``; ``missing(folder, train)``: the error."""
    root = _tonic_root(root, cls.__name__)
    transform = to_frames(spec.sensor_size, timesteps, image_size)
    splits = []
    for train, folder in zip((True, False), folders, strict=True):
        where = root / cls.__name__ / folder
        split = _tonic_split(cls, root, where, suffix, download, missing(where, train), train=train)
        split.transform = transform
        splits.append(cached_frames(split, root, spec.name, "train" if train else "test", timesteps, image_size))
    return splits[0], splits[1]


# N-MNIST: T = 10 at its 34x34 (Fang et al., "Incorporating learnable membrane time constant to enhance learning
# of spiking neural networks", ICCV 2021, PLIF: its code README runs N-MNIST with -T 10), no augmentation (ibid.).
@register_event_dataset(
    "nmnist",
    folder="NMNIST",  # tonic's NMNIST.__name__
    sensor_size=(34, 34, 2),
    source="T=10, 34x34: Fang et al., ICCV 2021 (PLIF)",
    augmentation="none (Fang et al., ICCV 2021)",
)
def _nmnist(spec: EventDataset, root: Path, download: bool, timesteps: int, image_size: int) -> EventBundle:
    from tonic.datasets import NMNIST

    def missing(folder: Path, train: bool) -> str:
        return (
            f"N-MNIST not found: looked for .bin files in {folder.resolve()}; add --download (needs internet), or "
            f"download {NMNIST.train_filename} and {NMNIST.test_filename} from "
            f"https://www.garrickorchard.com/datasets/n-mnist and extract them into {folder.parent.resolve()} (or "
            "point --data-dir at the folder that holds NMNIST)"
        )

    folders = (NMNIST.train_folder, NMNIST.test_folder)
    splits = _train_and_test(NMNIST, spec, root, download, timesteps, image_size, ".bin", folders, missing)
    return _bundle(spec, *splits, timesteps, image_size, list(NMNIST.classes))


# DVS128 Gesture: T = 16 at 128x128 (Fang et al., "Deep residual learning in spiking neural networks", NeurIPS
# 2021, SEW ResNet), no augmentation (ibid.; a flip would turn the left-hand classes into right-hand ones).
@register_event_dataset(
    "dvsgesture",
    folder="DVSGesture",  # tonic's DVSGesture.__name__
    sensor_size=(128, 128, 2),
    source="T=16, 128x128: Fang et al., NeurIPS 2021 (SEW ResNet)",
    augmentation="none (Fang et al., NeurIPS 2021): a flip would swap the left- and right-hand classes",
)
def _dvsgesture(spec: EventDataset, root: Path, download: bool, timesteps: int, image_size: int) -> EventBundle:
    from tonic.datasets import DVSGesture

    def missing(folder: Path, train: bool) -> str:
        archive, url = (
            (DVSGesture.train_filename, DVSGesture.train_url)
            if train
            else (DVSGesture.test_filename, DVSGesture.test_url)
        )
        return (
            f"DVS128 Gesture not found: looked for user*/<label>.npy files in {folder.resolve()}; add --download "
            f"(needs internet), or download {archive} ({url}, tonic's preprocessed version) and extract it into "
            f"{folder.parent.resolve()}"
        )

    folders = ("ibmGestureTrain", "ibmGestureTest")
    splits = _train_and_test(DVSGesture, spec, root, download, timesteps, image_size, ".npy", folders, missing)
    return _bundle(spec, *splits, timesteps, image_size, list(DVSGesture.classes))


CIFAR10DVS_TRAIN_FRACTION = 0.9  # no official split: 9:1 per class (Fang et al. 2021; Deng et al. 2022)


# CIFAR10-DVS: T = 10 frames downsampled to 48x48, a random horizontal flip and a random roll by up to 5 pixels
# each way (Deng et al., "Temporal efficient training of spiking neural network via gradient re-weighting",
# ICLR 2022, TET, and its code's DVSCifar10 loader; the roll scales with image_size), 9:1 split per class.
@register_event_dataset(
    "cifar10dvs",
    folder="CIFAR10DVS",  # tonic's CIFAR10DVS.__name__
    sensor_size=(128, 128, 2),
    source="T=10, 48x48: Deng et al., ICLR 2022 (TET)",
    augmentation="flip 1/2 and roll up to 5 px at 48x48 (Deng et al., ICLR 2022, TET)",
)
def _cifar10dvs(spec: EventDataset, root: Path, download: bool, timesteps: int, image_size: int) -> EventBundle:
    from tonic.datasets import CIFAR10DVS

    root = _tonic_root(root, "CIFAR10DVS")
    location = root / "CIFAR10DVS"
    missing = (
        f"CIFAR10-DVS not found: looked for <class>/*.aedat4 files in {location.resolve()}; add --download (needs "
        f"internet), or download {CIFAR10DVS.filename} ({CIFAR10DVS.url}), extract it and the ten class archives "
        f"in it into {location.resolve()}"
    )
    full = _tonic_split(CIFAR10DVS, root, location, ".aedat4", download, missing)
    full.transform = to_frames(spec.sensor_size, timesteps, image_size)
    # the first 90% of each class's recordings (by file name) train, the rest test
    train_idx, test_idx = [], []
    for label in sorted(set(full.targets)):
        members = sorted((i for i, t in enumerate(full.targets) if t == label), key=lambda i: full.data[i])
        cut = round(CIFAR10DVS_TRAIN_FRACTION * len(members))
        train_idx += members[:cut]
        test_idx += members[cut:]
    frames = cached_frames(full, root, spec.name, "all", timesteps, image_size)
    classes = sorted(CIFAR10DVS.classes, key=CIFAR10DVS.classes.get)
    roll = RandomRoll(max_shift=5 * image_size // 48, flip=True)
    return _bundle(spec, Subset(frames, train_idx), Subset(frames, test_idx), timesteps, image_size, classes, roll)


# --- digits-dvs ----------------------------------------------------------------------------------
# T = 6: two bins per saccade (three saccades, as N-MNIST's), near SNASNet's T = 5; the sensor: the 16-pixel digit
# and its 4-pixel saccades (snasnet.data.digits_dvs).
@register_event_dataset(
    "digits-dvs",
    sensor_size=(CameraSettings.sensor_size, CameraSettings.sensor_size, 2),
    source="snasnet.data.digits_dvs: N-MNIST's recipe (Orchard et al., 2015) on scikit-learn's digits",
    augmentation="shift=N: a roll by up to N px, into the blank margin (as digits' shift)",
)
def _digits_dvs(
    spec: EventDataset, root: Path, download: bool, timesteps: int, image_size: int, *, shift: int = 0, seed: int = 0
) -> EventBundle:
    """Recordings from the cache under ``root`` (generated on first use), framed in memory (1797 samples: a
    fraction of a second). The split is ``digits``': the same images train and test. ``shift``: training
    frames rolled by up to that many pixels (the margin around the digit is blank, so a roll is a shift);
    ``seed``: the camera's pixels (their thresholds)."""
    from sklearn.model_selection import train_test_split

    if shift < 0:
        raise DataError(f"digits-dvs: shift must be >= 0 (got {shift})")
    recordings, labels = load_recordings(root, CameraSettings(seed=seed))
    transform = to_frames(spec.sensor_size, timesteps, image_size)
    frames = torch.stack([torch.from_numpy(transform(events).astype(np.float32)) for events in recordings])
    train_idx, test_idx = train_test_split(
        list(range(len(labels))), test_size=DIGITS_TEST_FRACTION, random_state=DIGITS_SPLIT_SEED, stratify=labels
    )
    labels = torch.from_numpy(labels)
    train, test = (TensorDataset(frames[i], labels[i]) for i in (train_idx, test_idx))
    roll = RandomRoll(shift, flip=False) if shift else None
    return _bundle(spec, train, test, timesteps, image_size, [str(d) for d in range(10)], roll)

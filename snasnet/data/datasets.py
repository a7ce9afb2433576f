"""What every dataset shares: ``DataBundle`` (the splits and sizes the jobs take), the registry by name
(``DATASETS``, ``get_dataset``; ``--dataset`` names its entries), where files are read (``data_root``), and
``Transformed``, the seeded augmentation wrapper. Static images (``snasnet.data.images``) and event frames
(``snasnet.data.events``) register their datasets here; importing ``snasnet.data`` registers them all.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch.utils.data import Dataset

if TYPE_CHECKING:
    from snasnet.network.model import SNASNet

from snasnet.core.errors import ConfigError, DataError
from snasnet.core.registry import Registry
from snasnet.core.seeding import derive_seed
from snasnet.network.presets import get_preset

DATA_ENV = "SNASNET_DATA"
DEFAULT_DATA_DIR = "data"


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
    #: event frames: T, the frames per sample (samples ``[T, C, H, W]``); None: static images ``[C, H, W]``
    timesteps: int | None = None
    #: a validation split apart from ``test``: the dataset's own, or images held out of ``train``
    #: (``snasnet.data.validation.hold_out``); None: the dataset has none
    val: Dataset | None = None
    #: how a raw input becomes what the model takes (``input_kind``, ``scale``, ``mean``, ``std``, ``formula``,
    #: as text), written into exported models so that their users can feed them; None: not described
    preprocessing: dict[str, str] | None = None

    @property
    def search_set(self) -> Dataset:
        return self.train_plain if self.train_plain is not None else self.train

    @property
    def takes_frames(self) -> bool:
        return self.timesteps is not None

    def check_model(self, model: SNASNet, what: str) -> None:
        """One ConfigError line when ``model`` (``what`` names it) cannot take these samples: frames for a
        static network or images for a frames one, or frames of another T."""
        if model.preset.takes_frames != self.takes_frames:
            kind = {True: "event frames", False: "static images"}
            raise ConfigError(
                f"{what} takes {kind[model.preset.takes_frames]} (preset {model.preset.name}) but dataset {self.name} "
                f"gives {kind[self.takes_frames]}: choose a dataset of the network's kind"
            )
        if self.takes_frames and self.timesteps != model.timesteps:
            raise ConfigError(
                f"{what} runs T={model.timesteps} timesteps but dataset {self.name} gives {self.timesteps} frames per "
                f"sample: leave out --timesteps and the dataset option timesteps, or give them the same value"
            )

    def model_overrides(self) -> dict[str, int]:
        """Preset fields that make ``build_model(self.preset, arch, **overrides)`` fit this data: its input,
        its image size and its classes (with the preset's output neurons per class)."""
        preset = get_preset(self.preset)
        overrides = {"in_channels": self.in_channels, "image_size": self.image_size, "num_classes": self.num_classes}
        if preset.final_neurons % self.num_classes:
            overrides["final_neurons"] = preset.num_clusters * self.num_classes
        return overrides


DatasetFactory = Callable[..., DataBundle]
DATASETS: Registry[DatasetFactory] = Registry("dataset", error=DataError)
#: where a dataset's files lie under a data root (``data_root``); datasets that need none (bundled with a
#: package, or generated) have no entry
DATASET_FILES: dict[str, Callable[[Path], Path]] = {}


def register_dataset(
    name: str, files: Callable[[Path], Path] | None = None
) -> Callable[[DatasetFactory], DatasetFactory]:
    """Decorator: ``@register_dataset("cifar10", files=lambda root: root / "cifar-10-batches-py")``. ``files``
    says where the dataset's files are looked for under a data root (what ``find_datasets`` reports)."""

    def add(factory: DatasetFactory) -> DatasetFactory:
        DATASETS.add(name, factory)
        if files is not None:
            DATASET_FILES[name] = files
        return factory

    return add


def find_datasets(data_dir: str | os.PathLike | None = None) -> dict[str, dict]:
    """For each dataset: where its files are looked for (``path``) and whether something is there (``found``: a
    folder that is not empty; its contents are not checked); both None for one that needs no files (bundled with
    a package, or generated). Loads nothing."""
    root = data_root(data_dir)
    report = {}
    for name in DATASETS.names():
        where = DATASET_FILES.get(name)
        if where is None:
            report[name] = {"path": None, "found": None}
            continue
        path = where(root)
        try:
            found = path.is_dir() and any(path.iterdir())
        except OSError:  # unreadable: as good as missing
            found = False
        report[name] = {"path": str(path.resolve()), "found": found}
    return report


def list_datasets() -> list[str]:
    return DATASETS.names()


def get_dataset(
    name: str,
    data_dir: str | os.PathLike | None = None,
    download: bool = False,
    *,
    model_timesteps: int | None = None,
    **options: object,
) -> DataBundle:
    """The named dataset. ``data_dir`` is where files are read (and downloaded to with ``download``);
    ``options`` are dataset-specific (e.g. ``synthetic``'s sizes). ``model_timesteps``: the network's T, into
    which an event dataset bins its events unless its own option ``timesteps`` says otherwise; images have no
    time axis and ignore it."""
    factory = DATASETS.get(name)
    if model_timesteps is not None and "timesteps" in inspect.signature(factory).parameters:
        options.setdefault("timesteps", model_timesteps)
    try:
        inspect.signature(factory).bind(data_dir=data_dir, download=download, **options)
    except TypeError:
        raise DataError(f"dataset {name!r} does not take the option(s) {', '.join(sorted(options))}") from None
    return factory(data_dir=data_dir, download=download, **options)


def data_root(data_dir: str | os.PathLike | None) -> Path:
    """Where datasets are read: ``data_dir``, else ``$SNASNET_DATA``, else ``./data``."""
    return Path(data_dir if data_dir is not None else os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR).expanduser()


class Transformed(Dataset):
    """``base[i]`` with ``transform`` applied to the image. A random transform draws from torch's generator
    seeded with (seed, epoch, index), so one epoch's augmentation of an image is the same whichever
    DataLoader worker loads it and however the epoch was interrupted and resumed; ``set_epoch`` moves on."""

    def __init__(self, base: Dataset, transform: Callable, seed: int = 0) -> None:
        self.base, self.transform = base, transform
        self.seed, self.epoch = seed, 0

    def set_epoch(self, epoch: int, seed: int | None = None) -> None:
        self.epoch = epoch
        if seed is not None:
            self.seed = seed

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.base[index]
        # fork_rng: the draw leaves the process's generator (dropout's) as it was. Transforms of images on the
        # CPU draw from the CPU generator only (torch.manual_seed would also seed CUDA, 100x slower).
        with torch.random.fork_rng(devices=[]):
            torch.default_generator.manual_seed(derive_seed(self.seed, "augment", self.epoch, index))
            return self.transform(image), label

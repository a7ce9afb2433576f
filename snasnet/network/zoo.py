"""The paper's networks by name (timm-style): each entry is a preset, a cell, its cell type and options, the
accuracy the paper reports and where the original weights come from.

    model = snasnet.create_model("snasnet-cifar100-bw")                                     # fresh weights
    model = snasnet.create_model("snasnet-cifar100-bw", weights="save_cifar100_bw.pth.tar")  # the original's
    snasnet.list_models()                                                                   # the names

``snasnet train --model NAME``, ``snasnet eval --model NAME CKPT`` and ``snasnet export ... --model NAME`` read
the same entries, so nobody types ``--arch 0303 0030 2002 0200 --second-avgpooling 4`` again. A weights file
that does not fit the named network is refused with the first key that differs. Torch-free until a model is
built, so the command line lists the names cheaply.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from snasnet.core.errors import CheckpointError, ConfigError
from snasnet.core.registry import Registry
from snasnet.network.arch import Architecture

if TYPE_CHECKING:
    from snasnet.network.model import SNASNet

ORIGINAL_REPOSITORY = (
    "https://github.com/Intelligent-Computing-Lab-Yale/Neural-Architecture-Search-for-Spiking-Neural-Networks"
)


@dataclass(frozen=True)
class NamedModel:
    """A network by name: ``build_model(preset, arch, celltype=..., second_avgpooling=..., **options)``."""

    name: str
    preset: str
    arch: str
    celltype: str
    second_avgpooling: int
    #: the top-1 test accuracy (%) the paper reports for this network, and at how many timesteps
    paper_top1: float
    timesteps: int
    #: where the trained weights come from (the original repository's README links them) and the file's name
    weights_url: str
    weights_file: str
    #: further ``build_model`` options (none for the paper's networks)
    options: dict = field(default_factory=dict)

    @property
    def dataset(self) -> str:
        """The dataset it was trained on: the preset's namesake."""
        return self.preset

    def network_options(self) -> dict:
        """What a training or an evaluation needs to build this network: arch, celltype, second_avgpooling."""
        return {"arch": self.arch, "celltype": self.celltype, "second_avgpooling": self.second_avgpooling}

    def describe(self) -> dict:
        return {
            "name": self.name,
            "preset": self.preset,
            "dataset": self.dataset,
            "arch": self.arch,
            "celltype": self.celltype,
            "second_avgpooling": self.second_avgpooling,
            "timesteps": self.timesteps,
            "paper_top1": self.paper_top1,
            "weights_url": self.weights_url,
            "weights_file": self.weights_file,
            "source": ORIGINAL_REPOSITORY,
            **({"options": self.options} if self.options else {}),
        }


MODELS: Registry[NamedModel] = Registry("model")


def register_model(model: NamedModel) -> NamedModel:
    return MODELS.add(model.name, model)


def list_models() -> list[str]:
    return MODELS.names()


def get_model(name: str) -> NamedModel:
    """The entry named ``name``, or a ConfigError line that lists the names."""
    return MODELS.get(name)


def named_network(name: str, given: dict) -> dict:
    """The cell, cell type and pooling of the network ``name`` (``NamedModel.network_options``). Settings in
    ``given`` (the same keys; None: not given) that say otherwise are refused: that network would not be the
    named one."""
    entry = get_model(name)
    network = entry.network_options()
    for key, value in network.items():
        wanted = given.get(key)
        if key == "arch" and wanted is not None:
            wanted = str(Architecture.parse(str(wanted), str(given.get("celltype") or entry.celltype)))
        if wanted is not None and wanted != value:
            option = "--" + key.replace("_", "-")
            raise ConfigError(
                f"{entry.name} is {entry.arch} ({entry.celltype}, second_avgpooling {entry.second_avgpooling}), "
                f"not {option} {wanted}: leave out {option}, or --model for another network"
            )
    return network


def create_model(name: str, *, weights: str | os.PathLike | None = None, **overrides: object) -> SNASNet:
    """The network ``name`` (``list_models()``), with fresh weights or those of ``weights`` (the original's
    ``{"state_dict": ...}`` or one of our checkpoints), checked against the network: a file for another network
    is a CheckpointError that names the model and the first key that differs. ``overrides`` are ``build_model``'s
    (``timesteps``, ``path``, preset fields ...)."""
    from snasnet.network.checkpoint import load_checkpoint
    from snasnet.network.model import build_model

    entry = get_model(name)
    options = {"celltype": entry.celltype, "second_avgpooling": entry.second_avgpooling, **entry.options, **overrides}
    if weights is None:
        return build_model(entry.preset, entry.arch, **options)
    try:
        return load_checkpoint(weights, arch=entry.arch, preset=entry.preset, **options)
    except CheckpointError as exc:
        raise CheckpointError(f"{entry.name}: {exc}") from None


# The paper's Table 2 (SNASNet-Bw, T = 5) and the original repository's README (the cells, the pretrained files
# and the command lines that evaluate them: CIFAR-10 with --second_avgpooling 4, CIFAR-100 with the default 2).
register_model(
    NamedModel(
        "snasnet-cifar10-bw",
        preset="cifar10",
        arch="0303 0030 2002 0200",
        celltype="backward",
        second_avgpooling=4,
        paper_top1=93.73,
        timesteps=5,
        weights_url="https://drive.google.com/file/d/1irW6V4MNt0BOkNWAP55X_yjrcIt-ulVK/view?usp=sharing",
        weights_file="save_cifar10_bw.pth.tar",
    )
)
register_model(
    NamedModel(
        "snasnet-cifar100-bw",
        preset="cifar100",
        arch="0302 0030 3003 0000",
        celltype="backward",
        second_avgpooling=2,
        paper_top1=73.04,
        timesteps=5,
        weights_url="https://drive.google.com/file/d/1pnS0nFMk2KlxTFeeVT5fYMdTPh_8qn84/view?usp=sharing",
        weights_file="save_cifar100_bw.pth.tar",
    )
)

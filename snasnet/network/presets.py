"""Named network sizes (timm-style registry). The CIFAR and TinyImageNet numbers are the original's.

A preset's ``input`` says what the network is fed: ``static`` images ``[B, C, H, W]`` (the stem runs once and its
output is fed at every timestep: the original's direct encoding) or event ``frames`` ``[B, T, C, H, W]`` (a
DataLoader's batch of ``snasnet.data.events`` samples; the stem runs at every timestep on that step's frame).
A frames preset also names its ``timesteps``: the T of its data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry
from snasnet.network.norms import norm_for_input

STATIC, FRAMES = "static", "frames"
INPUTS = (STATIC, FRAMES)
DEFAULT_TIMESTEPS = 5  # the original's T


@dataclass(frozen=True)
class Preset:
    """Everything that sizes an SNASNet besides the cell: input, widths, classifier and output groups.

    ``channels`` is the width of the stem and cell 1; cell 2 is twice as wide. The last linear layer has
    ``final_neurons`` outputs, averaged in groups of ``final_neurons // num_classes`` into class scores.
    """

    name: str
    in_channels: int
    image_size: int
    num_classes: int
    channels: int
    classifier_width: int
    final_neurons: int
    stem_stride: int = 1
    input: str = STATIC  # one of INPUTS
    timesteps: int | None = None  # frames presets: the frames per sample of their data (None: the model's T)

    def __post_init__(self) -> None:
        if self.input not in INPUTS:
            raise ConfigError(f"input must be one of {', '.join(INPUTS)} (got {self.input!r})")
        if self.timesteps is not None and (
            not isinstance(self.timesteps, int) or isinstance(self.timesteps, bool) or self.timesteps < 1
        ):
            raise ConfigError(f"timesteps must be a positive integer (got {self.timesteps!r})")
        for field in (
            "in_channels",
            "image_size",
            "num_classes",
            "channels",
            "classifier_width",
            "final_neurons",
            "stem_stride",
        ):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ConfigError(f"{field} must be a positive integer (got {value!r})")
        if self.final_neurons % self.num_classes:
            raise ConfigError(
                f"final_neurons ({self.final_neurons}) must be a multiple of num_classes ({self.num_classes}): "
                "each class averages an equal group of output neurons"
            )

    @property
    def num_clusters(self) -> int:
        """Output neurons per class (the original's ``num_cluster``)."""
        return self.final_neurons // self.num_classes

    @property
    def takes_frames(self) -> bool:
        return self.input == FRAMES

    @property
    def model_timesteps(self) -> int:
        """T of a network of this preset unless told otherwise: a frames preset's, else the original's 5."""
        return self.timesteps if self.timesteps is not None else DEFAULT_TIMESTEPS

    def replace(self, **overrides: object) -> Preset:
        unknown = sorted(set(overrides) - {f.name for f in dataclasses.fields(self)})
        if unknown:
            raise ConfigError(f"unknown preset field(s): {', '.join(unknown)}")
        return dataclasses.replace(self, **overrides)


PRESETS: Registry[Preset] = Registry("preset")


def register_preset(preset: Preset) -> Preset:
    return PRESETS.add(preset.name, preset)


def list_presets() -> list[str]:
    return PRESETS.names()


def get_preset(name: str | Preset, **overrides: object) -> Preset:
    """A registered preset by name (or a Preset as given), with fields replaced by ``overrides``."""
    preset = name if isinstance(name, Preset) else PRESETS.get(name)
    return preset.replace(**overrides) if overrides else preset


def norm_for_dataset(name: str) -> str:
    """The normalisation (``snasnet.network.norms``) of a job on dataset ``name``: its preset's input kind's
    default (frames or static), static for a dataset without a preset of its name."""
    return norm_for_input(PRESETS.get(name).input if name in PRESETS else STATIC)


def default_timesteps(name: str) -> int:
    """T for a job on dataset ``name``: the frames per sample of the frames preset of that name, else the
    original's 5."""
    return PRESETS.get(name).model_timesteps if name in PRESETS else DEFAULT_TIMESTEPS


# The original's numbers (model_snn.py; CIFAR-10 at twice the width, as in its spikingjelly port).
register_preset(
    Preset(
        "cifar10", in_channels=3, image_size=32, num_classes=10, channels=256, classifier_width=1024, final_neurons=100
    )
)
register_preset(
    Preset(
        "cifar100",
        in_channels=3,
        image_size=32,
        num_classes=100,
        channels=128,
        classifier_width=1024,
        final_neurons=500,
    )
)
register_preset(
    Preset(
        "tinyimagenet",
        in_channels=3,
        image_size=64,
        num_classes=200,
        channels=128,
        classifier_width=4096,
        final_neurons=1000,
        stem_stride=2,
    )
)
# scikit-learn's 8x8 digits: small enough to train on a laptop CPU in minutes.
register_preset(
    Preset("digits", in_channels=1, image_size=8, num_classes=10, channels=32, classifier_width=256, final_neurons=100)
)


# Event data: 2 input channels (OFF, ON counts). These sizes and T are also the event datasets' defaults
# (snasnet.data.events reads them here, and states their sources): N-MNIST T=10 at 34x34, PLIF; DVS128 Gesture
# T=16 at 128x128, SEW ResNet; CIFAR10-DVS T=10 at 48x48, TET. Widths: the original's CIFAR-100 network for the
# real datasets (stem stride 2 at 128x128, as tinyimagenet's at 64x64); digits-dvs (20x20, T=6,
# snasnet.data.digits_dvs) small enough to train on 2 CPU cores.
register_preset(
    Preset(
        "digits-dvs",
        in_channels=2,
        image_size=20,
        num_classes=10,
        channels=16,
        classifier_width=128,
        final_neurons=100,
        input=FRAMES,
        timesteps=6,
    )
)
# (name, image size, classes, final neurons, stem stride, T)
for _name, _size, _classes, _neurons, _stride, _steps in (
    ("nmnist", 34, 10, 100, 1, 10),
    ("dvsgesture", 128, 11, 110, 2, 16),
    ("cifar10dvs", 48, 10, 100, 1, 10),
):
    register_preset(
        Preset(
            _name,
            in_channels=2,
            image_size=_size,
            num_classes=_classes,
            channels=128,
            classifier_width=1024,
            final_neurons=_neurons,
            stem_stride=_stride,
            input=FRAMES,
            timesteps=_steps,
        )
    )

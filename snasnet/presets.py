"""Named network sizes (timm-style registry). The CIFAR and TinyImageNet numbers are the original's."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from snasnet.errors import ConfigError
from snasnet.registry import Registry


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

    def __post_init__(self) -> None:
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

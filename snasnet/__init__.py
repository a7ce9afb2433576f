"""snasnet: SNASNet spiking networks, from training-free search to a verified, deployable artefact.

    import snasnet
    model = snasnet.build_model("cifar100", "0302 0030 3003 0000")   # backward cell, T = 5
    scores = model(images)                                            # [B, 100], averaged over T

Names are imported lazily, so ``import snasnet.arch`` (which front ends use to draw cells) does not
load torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "Architecture": "snasnet.arch",
    "sample": "snasnet.arch",
    "enumerate_canonical": "snasnet.arch",
    "Preset": "snasnet.presets",
    "get_preset": "snasnet.presets",
    "list_presets": "snasnet.presets",
    "register_preset": "snasnet.presets",
    "LIFConfig": "snasnet.neuron",
    "SNASNet": "snasnet.model",
    "build_model": "snasnet.model",
    "model_from_config": "snasnet.model",
    "load_checkpoint": "snasnet.checkpoint",
    "save_checkpoint": "snasnet.checkpoint",
    "complexity": "snasnet.complexity",
    "SnasnetError": "snasnet.errors",
}

__all__ = [
    "__version__",
    "Architecture",
    "sample",
    "enumerate_canonical",
    "Preset",
    "get_preset",
    "list_presets",
    "register_preset",
    "LIFConfig",
    "SNASNet",
    "build_model",
    "model_from_config",
    "load_checkpoint",
    "save_checkpoint",
    "complexity",
    "SnasnetError",
]
assert set(__all__[1:]) == set(_EXPORTS)

if TYPE_CHECKING:
    from snasnet.arch import Architecture, enumerate_canonical, sample
    from snasnet.checkpoint import load_checkpoint, save_checkpoint
    from snasnet.complexity import complexity
    from snasnet.errors import SnasnetError
    from snasnet.model import SNASNet, build_model, model_from_config
    from snasnet.neuron import LIFConfig
    from snasnet.presets import Preset, get_preset, list_presets, register_preset


def __getattr__(name: str) -> object:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'snasnet' has no attribute {name!r}")

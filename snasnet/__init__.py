"""snasnet: SNASNet spiking networks, from training-free search to a verified, deployable artefact.

    import snasnet
    model = snasnet.build_model("cifar100", "0302 0030 3003 0000")   # backward cell, T = 5
    scores = model(images)                                            # [B, 100], averaged over T
    model = snasnet.create_model("snasnet-cifar100-bw")               # the paper's networks by name

Names are imported lazily, so ``import snasnet.network.arch`` (which front ends use to draw cells) does not
load torch. The packages, lowest layer first (docs/architecture.md): ``core`` (what every job shares),
``network``, ``data`` and ``measure``, ``search`` and ``train``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snasnet.core.lazy import lazy_dir, lazy_exports

__version__ = "0.1.0"

_EXPORTS = {
    "Architecture": "snasnet.network.arch",
    "sample": "snasnet.network.arch",
    "enumerate_canonical": "snasnet.network.arch",
    "Preset": "snasnet.network.presets",
    "get_preset": "snasnet.network.presets",
    "list_presets": "snasnet.network.presets",
    "register_preset": "snasnet.network.presets",
    "LIFConfig": "snasnet.network.neuron",
    "SNASNet": "snasnet.network.model",
    "build_model": "snasnet.network.model",
    "model_from_config": "snasnet.network.model",
    "load_checkpoint": "snasnet.network.checkpoint",
    "save_checkpoint": "snasnet.network.checkpoint",
    "create_model": "snasnet.network.zoo",
    "list_models": "snasnet.network.zoo",
    "complexity": "snasnet.measure.complexity",
    "SnasnetError": "snasnet.core.errors",
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
    "create_model",
    "list_models",
    "complexity",
    "SnasnetError",
]
assert set(__all__[1:]) == set(_EXPORTS)

if TYPE_CHECKING:
    from snasnet.core.errors import SnasnetError
    from snasnet.measure.complexity import complexity
    from snasnet.network.arch import Architecture, enumerate_canonical, sample
    from snasnet.network.checkpoint import load_checkpoint, save_checkpoint
    from snasnet.network.model import SNASNet, build_model, model_from_config
    from snasnet.network.neuron import LIFConfig
    from snasnet.network.presets import Preset, get_preset, list_presets, register_preset
    from snasnet.network.zoo import create_model, list_models


__getattr__ = lazy_exports(__name__, _EXPORTS)
__dir__ = lazy_dir(__name__, _EXPORTS)

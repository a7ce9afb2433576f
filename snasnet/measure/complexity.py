"""Parameter counts and dense multiply-accumulates (MACs) of a built network, layer by layer.

MACs are counted for convolutions and linear layers (batch norm, pooling and neurons are left out, as
is usual), per image, as if every input were dense. The stem runs once per image on the static input;
everything else runs once per timestep.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from snasnet.network.model import SNASNet


@dataclass(frozen=True)
class LayerMacs:
    name: str
    kind: str  # "conv" or "linear"
    macs: int  # per image, per call
    once: bool  # True for a static network's stem (once per image), False for layers run at every timestep


def layer_macs(model: SNASNet) -> list[LayerMacs]:
    """Measure every conv/linear call in one reference-path pass on a single zero image."""
    names = {m: n for n, m in model.named_modules()}
    found: dict[str, LayerMacs] = {}

    def hook(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        name = names[module]
        if name in found:  # later timesteps repeat the same work
            return
        if isinstance(module, nn.Conv2d):
            k = module.in_channels // module.groups * module.kernel_size[0] * module.kernel_size[1]
            once = name.startswith("stem.") and not model.preset.takes_frames  # frames: the stem at every step
            found[name] = LayerMacs(name, "conv", output[0].numel() * k, once)
        else:
            found[name] = LayerMacs(name, "linear", module.in_features * module.out_features, False)

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    was_training = model.training
    param = next(model.parameters())
    p = model.preset
    frames = (model.timesteps,) if p.takes_frames else ()  # [1, T, C, H, W] for a frames network
    try:
        model.eval()
        with torch.no_grad():
            zeros = torch.zeros(1, *frames, p.in_channels, p.image_size, p.image_size, device=param.device)
            model(zeros, path="reference")
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
        model.reset_state()
    order = {n: i for i, n in enumerate(names.values())}
    return sorted(found.values(), key=lambda layer: order[layer.name])


@dataclass(frozen=True)
class Complexity:
    params: int
    stem_macs: int
    macs_per_timestep: int
    timesteps: int

    @property
    def macs_per_image(self) -> int:
        return self.stem_macs + self.timesteps * self.macs_per_timestep


def complexity(model: SNASNet) -> Complexity:
    layers = layer_macs(model)
    return Complexity(
        params=sum(p.numel() for p in model.parameters()),
        stem_macs=sum(layer.macs for layer in layers if layer.once),
        macs_per_timestep=sum(layer.macs for layer in layers if not layer.once),
        timesteps=model.timesteps,
    )

"""Run a NIR graph for T steps with nirtorch, to check an exported file against the model.

nirtorch (``nir_to_torch``) wires the graph into a torch.fx module, cuts each cycle with a one-step delay
and carries every stateful node's state between calls; it needs a map from NIR nodes to torch modules.
Its default map has no ``LIF`` and loads ``Affine`` without its bias, so the map here is ours: the reference
reading of the file, beside the toolchains' own importers (``exporters.nir_importers``).
Each node follows NIR's definition: the LIF is ``tau dv/dt = (v_leak - v) + r I`` by forward Euler with
the file's ``dt``, firing when ``v > v_threshold``, then ``v = v_reset``; the membrane starts at ``v_reset``.
"""

from __future__ import annotations

import os

import numpy as np
import torch
from torch import nn


def _t(a) -> torch.Tensor:
    return torch.as_tensor(np.asarray(a, dtype=np.float32))


class NIRLIF(nn.Module):
    """NIR's LIF, one Euler step per call: ``forward(x, state) -> (spikes, membrane)``."""

    def __init__(self, node, dt: float) -> None:
        super().__init__()
        self.register_buffer("steps", _t(node.tau) / dt)  # tau in timesteps
        self.register_buffer("r", _t(node.r))
        self.register_buffer("v_leak", _t(node.v_leak))
        self.register_buffer("v_threshold", _t(node.v_threshold))
        self.register_buffer("v_reset", _t(node.v_reset))

    def forward(self, x: torch.Tensor, state: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.v_reset.expand_as(x) if state is None else state
        v = v + (self.v_leak - v + self.r * x) / self.steps
        fired = v > self.v_threshold
        return fired.to(x.dtype), torch.where(fired, self.v_reset, v)


def _pair(value) -> tuple[int, int]:
    value = np.asarray(value).reshape(-1).tolist()
    return (int(value[0]), int(value[-1]))


def _conv2d(node) -> nn.Conv2d:
    weight = _t(node.weight)
    conv = nn.Conv2d(
        weight.shape[1] * int(node.groups),
        weight.shape[0],
        tuple(weight.shape[2:]),
        stride=_pair(node.stride),
        padding=_pair(node.padding),
        dilation=_pair(node.dilation),
        groups=int(node.groups),
        bias=True,
    )
    conv.weight.data, conv.bias.data = weight, _t(node.bias)
    return conv


def _linear(node, bias: bool) -> nn.Linear:
    weight = _t(node.weight)
    linear = nn.Linear(weight.shape[1], weight.shape[0], bias=bias)
    linear.weight.data = weight
    if bias:
        linear.bias.data = _t(node.bias)
    return linear


def node_map(dt: float) -> dict:
    """NIR node type -> torch module, for ``nirtorch.nir_to_torch``."""
    import nir

    return {
        nir.LIF: lambda node: NIRLIF(node, dt),
        nir.Conv2d: _conv2d,
        nir.AvgPool2d: lambda node: nn.AvgPool2d(_pair(node.kernel_size), _pair(node.stride), _pair(node.padding)),
        # NIR shapes have no batch dimension: its start_dim 0 is torch's 1
        nir.Flatten: lambda node: nn.Flatten(
            int(node.start_dim) + 1 if node.start_dim >= 0 else int(node.start_dim),
            int(node.end_dim) + 1 if node.end_dim >= 0 else int(node.end_dim),
        ),
        nir.Linear: lambda node: _linear(node, bias=False),
        nir.Affine: lambda node: _linear(node, bias=True),
    }


def simulate_nir(graph, images: torch.Tensor, timesteps: int | None = None, dt: float | None = None) -> torch.Tensor:
    """Run ``graph`` (a ``nir.NIRGraph`` or a file) on ``images`` for ``timesteps`` steps (default: the
    file's metadata) from rest, feeding the images at every step (event frames ``[N, T, C, H, W]``: frame t at
    step t); returns the output averaged over the steps."""
    import nir
    import nirtorch

    if isinstance(graph, (str, os.PathLike)):
        graph = nir.read(graph)
    meta = graph.metadata or {}
    timesteps = int(timesteps or meta.get("timesteps", 1))
    dt = float(dt or meta.get("dt", 1e-4))
    return average_over_steps(nirtorch.nir_to_torch(graph, node_map(dt)), images, timesteps)


def step_input(images: torch.Tensor, t: int) -> torch.Tensor:
    """What a graph of one timestep gets at step ``t``: a static image batch ``[N, C, H, W]`` at every step,
    or frame t of event frames ``[N, T, C, H, W]``."""
    return images[:, t] if images.dim() == 5 else images


def average_over_steps(module, images: torch.Tensor, timesteps: int) -> torch.Tensor:
    """Call a loaded NIR graph ``module(images, state) -> (out, state)`` for ``timesteps`` steps from rest,
    feeding the images at every step (event frames: frame t at step t), passing the state on; the outputs
    averaged over the steps."""
    state, total = None, None
    with torch.no_grad():
        for t in range(timesteps):
            out, state = module(step_input(images, t), state)
            total = out if total is None else total + out
    return total / timesteps

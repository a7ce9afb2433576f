"""Spike statistics of a model: per-layer firing rates and spike counts over T, from forward hooks on
its LIF layers. Used by eval, by training events, by search events and by the energy exporter.

    with SpikeMonitor(model) as monitor:
        for images, _ in loader:
            model(images)
    monitor.firing_rates()          # {"cell1.cell_architecture.0.0": 0.12, ...}
    monitor.spikes_per_image()      # {...: spikes per image, summed over the T steps}

Counts stay on the model's device until asked for (no host round trip per hook).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn


@dataclass
class LayerSpikes:
    """Running totals of one LIF layer."""

    neurons: int = 0  # neurons of the layer for one image at one step
    spikes: torch.Tensor | float = 0.0  # spikes counted so far
    image_steps: int = 0  # (image, timestep) pairs seen so far


class SpikeMonitor:
    """Counts the spikes of every LIF layer of ``model`` (any module with ``lif_layers()``, or the LIF
    modules found by ``layers``). A layer that runs step by step emits ``[B, ...]`` once per step; one that
    runs over all steps at once (``step_mode == "m"``) emits ``[T, B, ...]``."""

    def __init__(self, model: nn.Module, layers: list[tuple[str, nn.Module]] | None = None) -> None:
        self.model = model
        self.layers = layers if layers is not None else model.lif_layers()
        self.stats: dict[str, LayerSpikes] = {}
        self.images = 0
        self._handles: list = []
        self.reset()
        self.attach()

    def attach(self) -> None:
        if self._handles:
            return
        for name, module in self.layers:
            self._handles.append(module.register_forward_hook(self._hook(name)))
        self._handles.append(self.model.register_forward_pre_hook(self._count_images))

    def detach(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def reset(self) -> None:
        self.stats = {name: LayerSpikes() for name, _ in self.layers}
        self.images = 0

    def __enter__(self) -> SpikeMonitor:
        self.attach()
        return self

    def __exit__(self, *exc: object) -> None:
        self.detach()

    def _count_images(self, module: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], torch.Tensor):
            self.images += args[0].shape[0]

    def _hook(self, name: str):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            out = output.detach()
            multi = getattr(module, "step_mode", "s") == "m"
            image_steps = out.shape[0] * out.shape[1] if multi else out.shape[0]
            stat = self.stats[name]
            stat.neurons = out[0, 0].numel() if multi else out[0].numel()
            stat.spikes = stat.spikes + out.sum(dtype=torch.float64)
            stat.image_steps += image_steps

        return hook

    # --- results --------------------------------------------------------------------------------
    def firing_rates(self) -> dict[str, float]:
        """Fraction of neurons firing per step, per layer (0 for a layer that did not run)."""
        return {
            name: float(s.spikes) / (s.neurons * s.image_steps) if s.image_steps else 0.0
            for name, s in self.stats.items()
        }

    def spikes_per_image(self) -> dict[str, float]:
        """Spikes per image over all T steps, per layer."""
        return {name: float(s.spikes) / self.images if self.images else 0.0 for name, s in self.stats.items()}

    def total_spikes_per_image(self) -> float:
        return sum(self.spikes_per_image().values())

    def mean_firing_rate(self) -> float:
        """All spikes over all neuron-steps of all layers."""
        spikes = sum(float(s.spikes) for s in self.stats.values())
        slots = sum(s.neurons * s.image_steps for s in self.stats.values())
        return spikes / slots if slots else 0.0

    def summary(self) -> dict:
        """Plain data for events and reports."""
        return {
            "firing_rates": self.firing_rates(),
            "spikes_per_image": self.spikes_per_image(),
            "total_spikes_per_image": self.total_spikes_per_image(),
            "mean_firing_rate": self.mean_firing_rate(),
            "images": self.images,
        }

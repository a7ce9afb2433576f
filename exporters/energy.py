"""Per-layer energy of an SNASNet from measured spikes: synaptic operations, dense MACs, and the same-shape ANN.

Counting (``count_operations``) runs eval batches on the model's fast path with forward hooks on every
convolution and linear layer and looks at what each one receives:

- **spikes** (every value 0 or 1, checked on every call): each input spike costs one synaptic operation
  (SOP, an accumulate) per synapse it reaches: a convolution's fan-out is (output positions whose window
  covers the spike's position, exact at the borders and for any stride) x output channels / groups; a
  linear layer's is its output features. Spikingjelly's ``SynOpCounter`` counts the same (a test checks).
- **pooled spikes**: the first classifier layer receives the last LIF's spikes average-pooled (k x k).
  Pooling then a linear layer is one linear layer on the unpooled spikes (weights / k^2), so each spike
  under a pooling window costs that layer's output features in SOPs (spikes cut off by the pooling's
  floor reach no synapse and cost nothing).
- **analog** values (the stem on the image, or anything else that is not spikes): dense MACs.

Pricing (``energy_report``) multiplies SOPs by the profile's E_AC and MACs by its E_MAC, per image. The
same-shape ANN does every layer's dense MACs once (one pass, no T) at E_MAC. Batch norms, pooling,
additions and neuron updates are not counted (as is usual, and as ``snasnet.complexity`` does for MACs).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from exporters.energy_profiles import EnergyProfile, get_profile
from snasnet.atomic import atomic_file, write_text
from snasnet.complexity import layer_macs
from snasnet.model import SNASNet
from snasnet.neuron import is_lif
from snasnet.ops import AVGPOOL, SKIP
from snasnet.spikes import SpikeMonitor

SPIKES, POOLED, ANALOG = "spikes", "pooled spikes", "analog"
_INTEGER_SLACK = 1e-4  # how far from an integer a pooled spike count may be after float averaging


def conv_fanout(conv: nn.Conv2d, height: int, width: int) -> torch.Tensor:
    """[H, W]: how many output positions of ``conv`` each input position feeds (per output channel of its
    group). Separable: rows and columns are counted apart and multiplied."""

    def per_axis(size: int, k: int, stride: int, pad: int, dilation: int) -> torch.Tensor:
        out = (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1
        counts = torch.zeros(size, dtype=torch.float64)
        for o in range(out):
            for j in range(k):
                i = o * stride - pad + j * dilation
                if 0 <= i < size:
                    counts[i] += 1
        return counts

    if isinstance(conv.padding, str):
        raise ValueError(f"string padding {conv.padding!r} is not supported")
    rows = per_axis(height, conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.dilation[0])
    cols = per_axis(width, conv.kernel_size[1], conv.stride[1], conv.padding[1], conv.dilation[1])
    return rows[:, None] * cols[None, :]


def feeding_lif(model: nn.Module) -> dict[str, str | None]:
    """Which LIF layer's spikes each convolution and linear layer receives (None: not a LIF's output, e.g.
    the image): the LIF just before it in its ``nn.Sequential``; for an SNASNet's first classifier layer,
    the last LIF (``last_act``), whose spikes reach it through pooling, flatten and dropout."""
    feeds: dict[str, str | None] = {}
    for parent, module in model.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        prefix = f"{parent}." if parent else ""
        for (prev_name, prev), (name, child) in zip([(None, None), *children], children, strict=False):
            if isinstance(child, (nn.Conv2d, nn.Linear)):
                feeds[prefix + name] = prefix + prev_name if is_lif(prev) else None
    if isinstance(model, SNASNet):
        names = {m: n for n, m in model.named_modules()}
        feeds[names[model.classifier[1]]] = names[model.last_act[1]]
    return feeds


@dataclass
class LayerCounts:
    """Operations of one convolution or linear layer, summed over every call and image seen."""

    name: str
    kind: str  # "conv" or "linear"
    input: str = SPIKES  # what it received on every call: spikes, pooled spikes or analog
    source: str | None = None  # the LIF layer whose spikes it receives
    pool_area: int = 1  # k*k of a pooling between the spikes and this layer
    image_steps: int = 0  # calls x batch: (image, timestep) pairs
    input_sum: float = 0.0  # sum of the input values (spikes, or pooled spikes x area)
    input_numel: int = 0
    sops: float = 0.0  # synaptic operations (valid while the input is spikes)
    _spatial: torch.Tensor | None = field(default=None, repr=False)  # conv: input spikes per position


@dataclass
class OperationCounts:
    """What ``count_operations`` measured: per-layer counts, images, and the LIF layers' firing rates."""

    layers: list[LayerCounts]
    images: int
    timesteps: int
    dense_macs: dict[str, int]  # per image per call (snasnet.complexity)
    lif_firing_rates: dict[str, float]
    skipped_feedback: bool  # the last step's unused feedback was not computed

    def calls_per_image(self, layer: LayerCounts) -> float:
        return layer.image_steps / self.images if self.images else 0.0


class SynapticCounter:
    """Counts the synaptic operations of every convolution and linear layer of ``model`` (any module) from
    what they receive, with forward hooks, until ``finish()``. ``sources`` (default ``feeding_lif``) names
    the LIF feeding each layer (None: analog input); ``pool_areas`` the k*k of a pooling between them."""

    def __init__(
        self, model: nn.Module, sources: dict[str, str | None] | None = None, pool_areas: dict[str, int] | None = None
    ) -> None:
        sources = feeding_lif(model) if sources is None else sources
        pool_areas = pool_areas or {}
        self.counts: dict[nn.Module, LayerCounts] = {}
        for name, module in model.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                kind = "conv" if isinstance(module, nn.Conv2d) else "linear"
                counts = LayerCounts(name, kind, source=sources.get(name))
                area = pool_areas.get(name, 1)
                if counts.source is None:
                    counts.input = ANALOG
                elif area > 1:
                    counts.input, counts.pool_area = POOLED, area
                self.counts[module] = counts
        self.handles = [m.register_forward_hook(self._hook) for m in self.counts]

    def _hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        x = inputs[0].detach()
        c = self.counts[module]
        c.image_steps += x.shape[0]
        c.input_numel += x.numel()
        c.input_sum += float(x.sum(dtype=torch.float64))
        if c.input == ANALOG:
            return
        if c.pool_area == 1:
            events = x
            spikes = bool(((x == 0) | (x == 1)).all())
        else:  # the spikes under each pooling window: integers, up to float rounding of the average
            events = x.double() * c.pool_area
            spikes = bool(((events - events.round()).abs() <= _INTEGER_SLACK).all() and (events >= 0).all())
        if not spikes:
            c.input = ANALOG  # not spikes after all: priced as dense MACs
        elif isinstance(module, nn.Conv2d):
            spatial = events.sum(dim=(0, 1), dtype=torch.float64)
            c._spatial = spatial if c._spatial is None else c._spatial + spatial
        else:
            c.sops += float(events.sum(dtype=torch.float64)) * module.out_features

    def finish(self) -> list[LayerCounts]:
        """Stop counting; the counts of every layer, synaptic operations summed over all calls."""
        for h in self.handles:
            h.remove()
        for module, c in self.counts.items():
            if isinstance(module, nn.Conv2d) and c.input != ANALOG and c._spatial is not None:
                fanout = conv_fanout(module, *c._spatial.shape) * (module.out_channels // module.groups)
                c.sops = float((c._spatial * fanout).sum())
            if c.input == ANALOG:
                c.sops = 0.0
            c._spatial = None
        return list(self.counts.values())


def count_operations(
    model: SNASNet, batches: Iterable, max_batches: int | None = None, count_unused_feedback: bool = False
) -> OperationCounts:
    """Run ``batches`` (image tensors or ``(images, labels)`` pairs) through ``model`` in eval mode and
    count each layer's inputs. By default the last step's feedback, which feeds no output, is skipped as
    on the model's fast path (a deployment would not compute it); ``count_unused_feedback`` counts the
    original's work instead."""
    macs = {layer.name: layer.macs for layer in layer_macs(model)}
    was_training, was_skipping = model.training, model.skip_unused_feedback
    device = next(model.parameters()).device
    model.eval()
    model.skip_unused_feedback = not count_unused_feedback
    names = {m: n for n, m in model.named_modules()}
    counter = SynapticCounter(model, pool_areas={names[model.classifier[1]]: model.second_avgpooling**2})
    monitor = SpikeMonitor(model)
    images = 0
    try:
        with torch.no_grad():
            for i, batch in enumerate(batches):
                if max_batches is not None and i >= max_batches:
                    break
                x = batch[0] if isinstance(batch, (tuple, list)) else batch
                model(x.to(device))
                images += x.shape[0]
    finally:
        layers = counter.finish()
        monitor.detach()
        model.train(was_training)
        model.skip_unused_feedback = was_skipping
    return OperationCounts(
        layers, images, model.timesteps, macs, monitor.firing_rates(), skipped_feedback=not count_unused_feedback
    )


@dataclass
class LayerEnergy:
    """One layer's row of the report, per image."""

    layer: str
    kind: str
    input: str
    source: str | None
    calls_per_image: float
    input_firing_rate: float | None  # fraction of input positions spiking per call (None: analog input)
    sops: float
    dense_macs: float  # the layer's dense MACs over all its calls
    energy_pj: float  # SOPs x E_AC (spike inputs) or dense MACs x E_MAC (analog inputs)
    ann_macs: int  # one dense pass
    ann_energy_pj: float


@dataclass
class EnergyReport:
    profile: EnergyProfile
    images: int
    timesteps: int
    layers: list[LayerEnergy]
    lif_firing_rates: dict[str, float]
    notes: list[str]

    @property
    def snn_energy_pj(self) -> float:
        return sum(row.energy_pj for row in self.layers)

    @property
    def ann_energy_pj(self) -> float:
        return sum(row.ann_energy_pj for row in self.layers)

    @property
    def ratio(self) -> float:
        """SNN energy / ANN energy (below 1: the SNN needs less)."""
        return self.snn_energy_pj / self.ann_energy_pj if self.ann_energy_pj else float("nan")

    @property
    def total_sops(self) -> float:
        return sum(row.sops for row in self.layers)

    def totals(self) -> dict:
        return {
            "snn_energy_pj": self.snn_energy_pj,
            "ann_energy_pj": self.ann_energy_pj,
            "snn_to_ann": self.ratio,
            "sops": self.total_sops,
            "analog_macs": sum(row.dense_macs for row in self.layers if row.input == ANALOG),
            "snn_dense_macs": sum(row.dense_macs for row in self.layers),
            "ann_macs": sum(row.ann_macs for row in self.layers),
        }

    def to_dict(self) -> dict:
        return {
            "profile": self.profile.to_dict(),
            "images": self.images,
            "timesteps": self.timesteps,
            "per": "image",
            "totals": self.totals(),
            "layers": [asdict(row) for row in self.layers],
            "lif_firing_rates": self.lif_firing_rates,
            "notes": self.notes,
        }

    def write_json(self, path: str | os.PathLike) -> Path:
        return write_text(path, json.dumps(self.to_dict(), indent=2) + "\n")

    def write_csv(self, path: str | os.PathLike) -> Path:
        """One row per layer, then a ``total`` row; energies in pJ per image."""
        path = Path(path)
        columns = list(LayerEnergy.__dataclass_fields__)
        with atomic_file(path, newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            for row in self.layers:
                writer.writerow(asdict(row))
            t = self.totals()
            writer.writerow(
                {
                    "layer": "total",
                    "sops": t["sops"],
                    "dense_macs": t["snn_dense_macs"],
                    "energy_pj": t["snn_energy_pj"],
                    "ann_macs": t["ann_macs"],
                    "ann_energy_pj": t["ann_energy_pj"],
                }
            )
        return path


def energy_report(model: SNASNet, counts: OperationCounts, profile: str | EnergyProfile = "45nm-fp32") -> EnergyReport:
    """Price ``counts`` with ``profile``: per image, per layer and in total, beside the same-shape ANN."""
    profile = get_profile(profile)
    rows = []
    for c in counts.layers:
        calls = counts.calls_per_image(c)
        macs = counts.dense_macs.get(c.name, 0)
        spiking = c.input != ANALOG
        sops = c.sops / counts.images if counts.images else 0.0
        dense = macs * calls
        rows.append(
            LayerEnergy(
                layer=c.name,
                kind=c.kind,
                input=c.input,
                source=c.source,
                calls_per_image=calls,
                input_firing_rate=c.input_sum / c.input_numel if spiking and c.input_numel else None,
                sops=sops,
                dense_macs=dense,
                energy_pj=sops * profile.e_ac_pj if spiking else dense * profile.e_mac_pj,
                ann_macs=macs,
                ann_energy_pj=macs * profile.e_mac_pj,
            )
        )
    return EnergyReport(profile, counts.images, counts.timesteps, rows, counts.lif_firing_rates, _notes(model, counts))


def _notes(model: SNASNet, counts: OperationCounts) -> list[str]:
    """What a reader of the numbers needs to know about this network and this count."""
    notes = []
    analog = [c.name for c in counts.layers if c.input == ANALOG]
    notes.append(f"layers fed by non-spike values, priced as dense MACs: {', '.join(analog) or 'none'}")
    wires = [f"{e.src}->{e.dst} {e.op_name}" for e in model.arch.edges() if e.op in (SKIP, AVGPOOL)]
    if wires:
        notes.append(
            "cell edges that carry analog values (node sums) and hold no synapses: "
            + ", ".join(wires)
            + "; each cell node's sum reaches a convolution only through a LIF, so every cell convolution "
            "receives spikes (checked on every call)"
        )
    if counts.skipped_feedback and model.arch.celltype == "backward":
        notes.append(
            "backward-edge layers ran T-1 of T steps: the last step's feedback feeds no output and is not "
            "computed (count it with count_unused_feedback / --count-unused-feedback)"
        )
    notes.append("not counted: batch norms, pooling, additions, neuron updates, memory traffic")
    notes.append("the ANN baseline: every convolution and linear layer once, dense (one pass, no timesteps)")
    return notes

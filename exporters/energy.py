"""Per-layer energy of an SNASNet from measured spikes: synaptic operations, dense MACs, and the same-shape ANN.

Counting (``count_operations``) runs eval batches on the model's fast path with ``snasnet.measure.synops``'s
``SynapticCounter`` (the one definition of a synaptic operation, which a search also uses): spikes into a layer
cost SOPs (each spike x the synapses it reaches), pooled spikes into the classifier likewise, analog inputs dense
MACs; that module says the exact rule.

Pricing (``energy_report``) multiplies SOPs by the profile's E_AC and MACs by its E_MAC, per image. The
same-shape ANN does every layer's dense MACs once (one pass, no T) at E_MAC. Batch norms, pooling,
additions and neuron updates are not counted (as is usual, and as ``snasnet.measure.complexity`` does for MACs).
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from exporters.energy_profiles import EnergyProfile, get_profile
from snasnet.core.atomic import atomic_file, write_text
from snasnet.measure.complexity import layer_macs
from snasnet.measure.spikes import SpikeMonitor
from snasnet.measure.synops import ANALOG, EVENTS, LayerCounts, SynapticCounter
from snasnet.network.model import SNASNet
from snasnet.network.ops import AVGPOOL, SKIP


@dataclass
class OperationCounts:
    """What ``count_operations`` measured: per-layer counts, images, and the LIF layers' firing rates."""

    layers: list[LayerCounts]
    images: int
    timesteps: int
    dense_macs: dict[str, int]  # per image per call (snasnet.measure.complexity)
    lif_firing_rates: dict[str, float]
    skipped_feedback: bool  # the last step's unused feedback was not computed

    def calls_per_image(self, layer: LayerCounts) -> float:
        return layer.image_steps / self.images if self.images else 0.0


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
    counter = SynapticCounter(model)
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
    arch: str | None = None  # the cell, to name layers by their edge (snasnet.network.arch.layer_label)

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
    return EnergyReport(profile, counts.images, counts.timesteps, rows, counts.lif_firing_rates, _notes(model, counts),
                        str(model.arch))  # fmt: skip


def _notes(model: SNASNet, counts: OperationCounts) -> list[str]:
    """What a reader of the numbers needs to know about this network and this count."""
    notes = []
    analog = [c.name for c in counts.layers if c.input == ANALOG]
    notes.append(f"layers fed by non-spike values, priced as dense MACs: {', '.join(analog) or 'none'}")
    events = [c.name for c in counts.layers if c.input == EVENTS]
    if events:
        notes.append(
            f"{', '.join(events)} receives the event frames: each event costs its fan-out in SOPs, as a spike "
            "does (a pixel with n events in a time bin, n times that)"
        )
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

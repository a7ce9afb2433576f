"""Per-layer energy of an SNASNet from measured spikes, compute and memory, beside the same-shape ANN.

Counting (``count_operations``) runs eval batches on the model's fast path with ``snasnet.measure.synops``'s
``SynapticCounter`` (the one definition of a synaptic operation, which a search also uses): spikes into a layer
cost SOPs (each spike x the synapses it reaches), pooled spikes into the classifier likewise, analog inputs dense
MACs; that module says the exact rule.

Pricing (``energy_report``) is ``snasnet.measure.energy``'s, per image, the same for the SNN and the ANN: compute
(SOPs x E_AC, dense MACs x E_MAC) and memory traffic (input, weight, output and neuron-state accesses, each priced
by the size of the buffer it comes from: Lemaire et al. 2022's model, spikingjelly's prices), and the firing rate
at which the two totals meet. Batch norms, pooling, additions and the neuron updates' arithmetic are not counted.
"""

from __future__ import annotations

import csv
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from snasnet.core.atomic import atomic_file, write_text
from snasnet.measure.complexity import layer_macs
from snasnet.measure.energy import DEFAULT_PROFILE, FIFO_WORDS, MEMORY_COSTS, EnergyEstimate, estimate_energy
from snasnet.measure.energy_profiles import EnergyProfile, get_profile
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
    """One layer's row of the report, per image: the synaptic layer with the LIF that feeds it (its spike writes and
    per-step updates), in the SNN and in the same-shape ANN (``snasnet.measure.energy`` says the rules)."""

    layer: str
    kind: str
    input: str
    source: str | None
    calls_per_image: float
    input_firing_rate: float | None  # fraction of input positions spiking per call (None: analog input)
    sops: float
    dense_macs: float  # the layer's dense MACs over all its calls
    snn_compute_pj: float  # SOPs x E_AC (spike inputs) or dense MACs x E_MAC (analog inputs)
    snn_memory_pj: float  # input + weight + output + neuron state
    snn_input_pj: float
    snn_weight_pj: float
    snn_output_pj: float
    snn_state_pj: float
    snn_total_pj: float
    ann_macs: int  # one dense pass
    ann_compute_pj: float
    ann_memory_pj: float
    ann_input_pj: float
    ann_weight_pj: float
    ann_output_pj: float
    ann_total_pj: float


@dataclass
class EnergyReport:
    profile: EnergyProfile
    images: int
    timesteps: int
    layers: list[LayerEnergy]
    lif_firing_rates: dict[str, float]
    notes: list[str]
    estimate: EnergyEstimate
    arch: str | None = None  # the cell, to name layers by their edge (snasnet.network.arch.layer_label)

    @property
    def snn_energy_pj(self) -> float:
        """Compute and memory."""
        return self.estimate.snn_pj

    @property
    def ann_energy_pj(self) -> float:
        return self.estimate.ann_pj

    @property
    def ratio(self) -> float:
        """SNN energy / ANN energy (below 1: the SNN needs less)."""
        return self.estimate.ratio

    @property
    def break_even_rate(self) -> float | None:
        """The mean firing rate at which the SNN's total equals the ANN's (``EnergyEstimate.break_even_rate``)."""
        return self.estimate.break_even_rate

    @property
    def total_sops(self) -> float:
        return sum(row.sops for row in self.layers)

    def totals(self) -> dict:
        return {
            **self.estimate.totals(),
            "sops": self.total_sops,
            "analog_macs": sum(row.dense_macs for row in self.layers if row.input == ANALOG),
            "snn_dense_macs": sum(row.dense_macs for row in self.layers),
            "ann_macs": sum(row.ann_macs for row in self.layers),
        }

    def to_dict(self) -> dict:
        return {
            "profile": self.profile.to_dict(),
            "memory_model": memory_model(),
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
        """One row per layer, then a ``total`` row (its ``input_firing_rate``: the mean firing rate, and
        ``break_even_rate`` beside it); energies in pJ per image."""
        path = Path(path)
        columns = [*LayerEnergy.__dataclass_fields__, "snn_to_ann", "break_even_rate"]
        with atomic_file(path, newline="") as f:
            writer = csv.DictWriter(f, columns)
            writer.writeheader()
            for row in self.layers:
                writer.writerow(asdict(row))
            t = self.totals()
            sums = {name: sum(getattr(row, name) for row in self.layers) for name in _SUMMED}
            writer.writerow(
                {
                    **sums,
                    "layer": "total",
                    "input_firing_rate": t["mean_firing_rate"],
                    "dense_macs": t["snn_dense_macs"],
                    "snn_to_ann": t["snn_to_ann"],
                    "break_even_rate": "" if t["break_even_rate"] is None else t["break_even_rate"],
                }
            )
        return path


#: the columns the csv's total row sums
_SUMMED = [name for name in LayerEnergy.__dataclass_fields__ if name.endswith("_pj")] + ["sops", "ann_macs"]


def memory_model() -> dict:
    """The memory prices the report used (spikingjelly's Lemaire model), for the json."""
    return {
        "source": "Lemaire et al., ICONIP 2022 (arXiv:2210.13107), as spikingjelly 2.0's "
        "op_counter.analytical_energy implements it; SRAM prices from Horowitz, ISSCC 2014 (45 nm)",
        "pj_per_byte_at_buffer_bytes": [list(point) for point in MEMORY_COSTS.memory_breakpoints],
        "spike_fifo_words": FIFO_WORDS,
    }


def energy_report(
    model: SNASNet, counts: OperationCounts, profile: str | EnergyProfile = DEFAULT_PROFILE
) -> EnergyReport:
    """Price ``counts`` with ``profile``: per image, per layer and in total, beside the same-shape ANN."""
    profile = get_profile(profile)
    estimate = estimate_energy(counts.layers, counts.images, profile)
    rows = []
    for c, priced in zip(counts.layers, estimate.layers, strict=True):
        spiking = c.input != ANALOG
        snn, ann = priced.snn, priced.ann
        rows.append(
            LayerEnergy(
                layer=c.name,
                kind=c.kind,
                input=c.input,
                source=c.source,
                calls_per_image=counts.calls_per_image(c),
                input_firing_rate=c.input_sum / c.input_numel if spiking and c.input_numel else None,
                sops=c.sops / counts.images if counts.images else 0.0,
                dense_macs=counts.dense_macs.get(c.name, 0) * counts.calls_per_image(c),
                snn_compute_pj=snn.compute,
                snn_memory_pj=snn.memory.total,
                snn_input_pj=snn.memory.input,
                snn_weight_pj=snn.memory.weight,
                snn_output_pj=snn.memory.output,
                snn_state_pj=snn.memory.state,
                snn_total_pj=snn.total,
                ann_macs=counts.dense_macs.get(c.name, 0),
                ann_compute_pj=ann.compute,
                ann_memory_pj=ann.memory.total,
                ann_input_pj=ann.memory.input,
                ann_weight_pj=ann.memory.weight,
                ann_output_pj=ann.memory.output,
                ann_total_pj=ann.total,
            )
        )
    notes = _notes(model, counts, estimate)
    return EnergyReport(
        profile, counts.images, counts.timesteps, rows, counts.lif_firing_rates, notes, estimate, str(model.arch)
    )


def _notes(model: SNASNet, counts: OperationCounts, estimate: EnergyEstimate) -> list[str]:
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
    p = estimate.profile
    notes.append(
        f"memory: every access moves a {p.word_bytes}-byte word, priced by the size of the buffer it comes from "
        "(Lemaire et al. 2022's rules, Horowitz's 45 nm SRAM: 10 pJ per 32-bit access at 8 KB, 20 at 32 KB, 100 at "
        "1 MB; spikingjelly's LemaireEnergyCostConfig); a row is a layer with the LIF that feeds it (its spike "
        "writes and per-step potential updates)"
    )
    if p.sop_includes_memory:
        notes.append(
            f"{p.name}'s E_AC is measured per synaptic operation on the chip, its synapse and potential accesses "
            "included: the SNN's spike reads, weight reads and synaptic potential updates are not priced again"
        )
    notes.append(_break_even_note(estimate))
    notes.append(
        "not counted: batch norms, pooling, additions at cell nodes, the neuron updates' arithmetic, addressing"
    )
    notes.append("the ANN baseline: every convolution and linear layer once, dense (one pass, no timesteps)")
    return notes


def _break_even_note(estimate: EnergyEstimate) -> str:
    rate, measured = estimate.break_even_rate, estimate.mean_firing_rate
    if rate is not None:
        more = " (above 1: the SNN needs less at any rate)" if rate > 1 else ""
        return (
            f"break-even: at a mean firing rate of {rate:.4g} spikes per neuron per step (measured: {measured:.4g}), "
            f"the spikes spread over the layers as measured, the SNN's total equals the ANN's{more}"
        )
    if estimate.silent_snn_pj >= estimate.ann_pj:
        return (
            f"break-even: none; without a single spike the SNN needs {estimate.silent_snn_pj / 1e3:.4g} nJ (its "
            f"analog layers and neuron updates), more than the ANN's {estimate.ann_pj / 1e3:.4g} nJ"
        )
    return "break-even: not defined, no spike was measured"

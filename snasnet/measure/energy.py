"""Energy per image of a network's counted operations (``snasnet.measure.synops``), for the SNN and for the
same-shape ANN under the same rules: compute and memory traffic. The energy report (``exporters.energy``) and a
search's ``energy`` objective both price their counts here.

**Compute** (as before): an SNN layer fed by spikes or events does SOPs x E_AC, one fed by dense values dense MACs
x E_MAC; the ANN does every layer's dense MACs once (one pass, no timesteps) at E_MAC.

**Memory**, the analytical model of Lemaire et al. 2022 as spikingjelly 2.0 implements it
(``op_counter.analytical_energy``: ``LemaireEnergyProfiler``): every access moves one word (the profile's
``word_bytes``) and costs, per byte, spikingjelly's ``LemaireEnergyCostConfig.memory_cost_pj`` at the size of the
buffer it comes from (Horowitz's 45 nm SRAM: a 32-bit access 10 pJ at 8 KB, 20 pJ at 32 KB, 100 pJ at 1 MB, linear
in between and from 0 below 8 KB, the 1 MB price above). Per call (a timestep; the ANN's one pass):

- *input*: a layer fed by spikes (or events) reads each spike once from the spike FIFO
  (``LemaireEnergyConfig.snn_fifo_capacity_elements`` words); a layer fed by dense values reads one input per MAC
  (a convolution) or each input once (a linear layer) from a buffer of its input's size.
- *weight*: one weight per SOP (spikes) or per MAC (dense), and one bias per output, from the layer's parameters.
- *output*: the ANN writes each output once to a buffer of the output's size. In the SNN a layer's results go into
  the next neurons' potentials (priced as neuron state), and a LIF writes each spike once to the spike FIFO.
- *neuron state*: each SOP reads and writes the potential it reaches (a buffer of the layer's outputs of one
  step); each LIF reads and writes every potential at every step (a buffer of its neurons).

A report row is a synaptic layer with the LIF that feeds it (an SNASNet edge is LIF -> conv -> BN), so the LIF's
spike writes and per-step updates are in the row of the layer its spikes reach: each LIF feeds one layer.

Why the traffic is computed here and not by spikingjelly's profiler: the profiler reports network totals, no
layers; it sizes buffers from the tensors it sees, the batch included (per image only at batch 1); it gives a
convolution's spike (kernel/stride)^2 synapses, borders ignored, where ``synops`` counts them exactly (and a spike
at a border reads only the weights it uses); and it takes pooled spikes into the classifier for dense values. So the
counts are ``SynapticCounter``'s, the one accounting of spikes, the rules and prices spikingjelly's;
tests/test_energy_memory.py checks that both give the same memory energy where both apply.

Not counted (both networks): batch norms (a deployment folds them into the weights), pooling, additions at cell
nodes, neuron updates' arithmetic, Lemaire's addressing operations, bias additions, and any reuse of a value held in
registers (Lemaire's rule: every MAC reads its input and weight, every SOP its weight and potential, from SRAM).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from spikingjelly.activation_based.op_counter.analytical_energy import LemaireEnergyConfig, LemaireEnergyCostConfig

from snasnet.measure.energy_profiles import EnergyProfile, get_profile
from snasnet.measure.synops import ANALOG, EVENTS, LayerCounts

#: what a report prices with unless told otherwise, and what a search's ``energy`` objective prices with
DEFAULT_PROFILE = "45nm-fp32"
#: spikingjelly's defaults: the SRAM prices and the spike FIFO's size in words
MEMORY_COSTS = LemaireEnergyCostConfig()
FIFO_WORDS = LemaireEnergyConfig().snn_fifo_capacity_elements


def access_pj(values: float, buffer_values: float, word_bytes: int) -> float:
    """Energy of moving ``values`` words to or from a buffer that holds ``buffer_values`` words."""
    return values * word_bytes * MEMORY_COSTS.memory_cost_pj(buffer_values * word_bytes)


@dataclass(frozen=True)
class Traffic:
    """Memory energy, pJ per image, by what is moved."""

    input: float = 0.0
    weight: float = 0.0
    output: float = 0.0
    state: float = 0.0

    @property
    def total(self) -> float:
        return self.input + self.weight + self.output + self.state


@dataclass(frozen=True)
class Priced:
    """One network's energy for one layer, pJ per image."""

    compute: float = 0.0
    memory: Traffic = field(default_factory=Traffic)

    @property
    def total(self) -> float:
        return self.compute + self.memory.total

    def per(self, images: int) -> Priced:
        m = self.memory
        parts = (m.input, m.weight, m.output, m.state)
        return Priced(self.compute / images, Traffic(*(part / images for part in parts)))


def _lif_spikes(c: LayerCounts) -> bool:
    """The layer receives a LIF's spikes (pooled or not), which a network's firing rate scales; events are data."""
    return c.input not in (ANALOG, EVENTS)


def snn_layer(c: LayerCounts, images: int, profile: EnergyProfile, spike_scale: float = 1.0) -> Priced:
    """The SNN's energy of layer ``c`` (with the LIF feeding it) per image, its LIF spikes scaled by
    ``spike_scale`` (1: as measured; 0: a silent network)."""
    if not c.image_steps or not images:
        return Priced()
    w = profile.word_bytes
    bias_reads = c.outputs if c.bias else 0
    if c.input == ANALOG:
        reads = c.macs if c.kind == "conv" else c.input_numel
        memory = Traffic(
            input=access_pj(reads, c.input_numel / c.image_steps, w),
            weight=access_pj(c.macs + bias_reads, c.params, w),
        )
        return Priced(c.macs * profile.e_mac_pj, memory).per(images)
    scale = spike_scale if _lif_spikes(c) else 1.0
    spikes = c.input_sum * c.pool_area * scale  # pooled: input_sum is the windows' means
    sops = c.sops * scale
    synaptic = 0.0 if profile.sop_includes_memory else 1.0  # a chip's E_AC holds these accesses
    state = synaptic * 2 * access_pj(sops, c.outputs / c.image_steps, w)  # read, write the potential a SOP reaches
    output = 0.0
    if _lif_spikes(c):
        neuron_steps = c.input_numel * c.pool_area  # the feeding LIF's neurons x its steps
        state += 2 * access_pj(neuron_steps, neuron_steps / c.image_steps, w)
        output = access_pj(spikes, FIFO_WORDS, w)
    memory = Traffic(
        input=synaptic * access_pj(spikes, FIFO_WORDS, w),
        weight=synaptic * access_pj(sops, c.params, w) + access_pj(bias_reads, c.params, w),
        output=output,
        state=state,
    )
    return Priced(sops * profile.e_ac_pj, memory).per(images)


def ann_layer(c: LayerCounts, profile: EnergyProfile) -> Priced:
    """The same-shape ANN's energy of layer ``c``: one dense pass per image on the inputs the layer had."""
    if not c.image_steps:
        return Priced()
    w = profile.word_bytes
    macs, inputs, outputs = (n / c.image_steps for n in (c.macs, c.input_numel, c.outputs))
    memory = Traffic(
        input=access_pj(macs if c.kind == "conv" else inputs, inputs, w),
        weight=access_pj(macs + (outputs if c.bias else 0), c.params, w),
        output=access_pj(outputs, outputs, w),
    )
    return Priced(macs * profile.e_mac_pj, memory)


@dataclass(frozen=True)
class PricedLayer:
    name: str
    snn: Priced
    ann: Priced


@dataclass(frozen=True)
class EnergyEstimate:
    """Per image: each layer's SNN and ANN energy, the totals, and where the two meet."""

    profile: EnergyProfile
    layers: list[PricedLayer]
    silent_snn_pj: float  # the SNN's energy with no LIF spike: what no firing rate lowers
    mean_firing_rate: float  # spikes per neuron per step of the LIFs that feed layers, as measured

    @property
    def snn_pj(self) -> float:
        return sum(layer.snn.total for layer in self.layers)

    @property
    def ann_pj(self) -> float:
        return sum(layer.ann.total for layer in self.layers)

    @property
    def ratio(self) -> float:
        """SNN / ANN (below 1: the SNN needs less)."""
        return self.snn_pj / self.ann_pj if self.ann_pj else float("nan")

    @property
    def break_even_scale(self) -> float | None:
        """The factor on every measured LIF spike at which the SNN's total equals the ANN's (None: no spikes
        measured, or the SNN costs more than the ANN with none)."""
        per_scale = self.snn_pj - self.silent_snn_pj
        if per_scale <= 0 or self.ann_pj <= self.silent_snn_pj:
            return None
        return (self.ann_pj - self.silent_snn_pj) / per_scale

    @property
    def break_even_rate(self) -> float | None:
        """The mean firing rate (spikes per neuron per step) at which the SNN's total equals the ANN's, the
        spikes spread over layers and positions as measured (below it the SNN needs less)."""
        scale = self.break_even_scale
        return None if scale is None else scale * self.mean_firing_rate

    def totals(self) -> dict:
        return {
            "snn_compute_pj": sum(layer.snn.compute for layer in self.layers),
            "snn_memory_pj": sum(layer.snn.memory.total for layer in self.layers),
            "snn_energy_pj": self.snn_pj,
            "ann_compute_pj": sum(layer.ann.compute for layer in self.layers),
            "ann_memory_pj": sum(layer.ann.memory.total for layer in self.layers),
            "ann_energy_pj": self.ann_pj,
            "snn_to_ann": self.ratio,
            "silent_snn_pj": self.silent_snn_pj,
            "mean_firing_rate": self.mean_firing_rate,
            "break_even_rate": self.break_even_rate,
        }


def mean_firing_rate(layers: list[LayerCounts]) -> float:
    """Spikes per neuron per step over the LIFs that feed the counted layers."""
    spikes = sum(c.input_sum * c.pool_area for c in layers if _lif_spikes(c))
    slots = sum(c.input_numel * c.pool_area for c in layers if _lif_spikes(c))
    return spikes / slots if slots else 0.0


def estimate_energy(
    layers: list[LayerCounts], images: int, profile: str | EnergyProfile = DEFAULT_PROFILE
) -> EnergyEstimate:
    """Price ``layers`` (``SynapticCounter.finish()`` after ``images`` images) with ``profile``."""
    profile = get_profile(profile)
    rows = [PricedLayer(c.name, snn_layer(c, images, profile), ann_layer(c, profile)) for c in layers]
    silent = sum(snn_layer(c, images, profile, spike_scale=0.0).total for c in layers)
    return EnergyEstimate(profile, rows, silent, mean_firing_rate(layers))

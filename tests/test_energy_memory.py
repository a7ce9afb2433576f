"""Energy with memory traffic (snasnet.measure.energy): a one-layer network priced by hand, the same figures as
spikingjelly's Lemaire estimator where both apply, chip profiles, the break-even rate and the search objective."""

from __future__ import annotations

import csv

import pytest
import torch
from helpers import lively_weights
from spikingjelly.activation_based.op_counter.analytical_energy import LemaireEnergyConfig, estimate_lemaire_energy
from test_energy import OneLayer, T, image_4x4
from test_search import csv_rows
from test_search_cli import run_cli
from torch import nn

from exporters.energy import count_operations, energy_report
from snasnet.measure.energy import access_pj, estimate_energy
from snasnet.measure.energy_profiles import get_profile
from snasnet.measure.synops import ANALOG, SPIKES, SynapticCounter
from snasnet.network.model import build_model
from snasnet.network.neuron import LIFConfig, make_lif
from snasnet.search.objectives import parse_objectives
from snasnet.search.pareto import dominates


def counted(model: nn.Module, x: torch.Tensor):
    counter = SynapticCounter(model)
    with torch.no_grad():
        model(x)
    return counter.finish()


def sram(buffer_bytes: float) -> float:
    """pJ per byte below 8 KB: Lemaire's 10 pJ per 32-bit access at 8 KB, falling linearly to 0 at 0 bytes."""
    assert buffer_bytes <= 8192
    return 10 / 4 * buffer_bytes / 8192


def test_a_32_bit_access_costs_what_horowitzs_sram_costs_at_the_buffers_size():
    # 10 pJ at 8 KB, 20 pJ at 32 KB, 100 pJ at 1 MB; linear in between (16 KB: a third of the way to 20 pJ)
    words = {2048: 10.0, 4096: 10 + 10 * 8 / 24, 8192: 20.0, 262144: 100.0, 10**7: 100.0}
    for buffer_words, pj in words.items():
        assert access_pj(1, buffer_words, 4) == pytest.approx(pj), buffer_words
    # narrower words: fewer bytes moved, and a smaller buffer for as many values
    assert access_pj(1, 4096, 1) == pytest.approx(access_pj(1, 1024, 4) / 4)


def test_one_conv_layer_memory_and_compute_by_hand():
    # LIF -> conv 3x3 (1 -> 2 channels, padding 1, no bias) on a 4x4 image for T = 5 steps (tests/test_energy.py):
    # 7 input spikes (a corner 5x, an inner pixel 2x), 76 SOPs. Buffers (4-byte words): the spike FIFO 1000 words
    # (4000 B), the weights 18 (72 B), the layer's outputs of one step 2x4x4 = 32 (128 B), the LIF's 16 potentials
    # (64 B).
    layers = counted(OneLayer(nn.Conv2d(1, 2, 3, padding=1, bias=False)), image_4x4())
    estimate = estimate_energy(layers, images=1, profile="45nm-fp32")  # 4.6 pJ per MAC, 0.9 per SOP
    snn, ann = estimate.layers[0].snn, estimate.layers[0].ann
    assert snn.compute == pytest.approx(76 * 0.9)
    assert snn.memory.input == pytest.approx(7 * 4 * sram(4000))  # each spike read from the FIFO
    assert snn.memory.weight == pytest.approx(76 * 4 * sram(72))  # one weight per SOP
    assert snn.memory.output == pytest.approx(7 * 4 * sram(4000))  # the LIF writes each spike to the FIFO
    # each SOP reads and writes one output potential; the LIF reads and writes its 16 potentials at each of 5 steps
    assert snn.memory.state == pytest.approx(2 * 76 * 4 * sram(128) + 2 * 16 * T * 4 * sram(64))
    # the ANN: one dense pass, 32 outputs x 9 MACs = 288; a convolution reads an input per MAC
    assert ann.compute == pytest.approx(288 * 4.6)
    assert ann.memory.input == pytest.approx(288 * 4 * sram(64))
    assert ann.memory.weight == pytest.approx(288 * 4 * sram(72))
    assert ann.memory.output == pytest.approx(32 * 4 * sram(128))
    assert ann.memory.state == 0
    # break-even: the LIF's updates cost the same at any rate; the rest scales with the spikes (7 of 80 slots)
    silent = 2 * 16 * T * 4 * sram(64)
    assert estimate.silent_snn_pj == pytest.approx(silent)
    assert estimate.mean_firing_rate == pytest.approx(7 / 80)
    per_measured_spikes = snn.total - silent
    assert estimate.break_even_rate == pytest.approx((ann.total - silent) / per_measured_spikes * 7 / 80)
    assert estimate.ratio == pytest.approx(snn.total / ann.total)


def test_a_chip_profile_does_not_price_a_synaptic_operations_memory_twice():
    layers = counted(OneLayer(nn.Conv2d(1, 2, 3, padding=1, bias=False)), image_4x4())
    chip = estimate_energy(layers, 1, "loihi").layers[0]
    host = estimate_energy(layers, 1, "45nm-fp32").layers[0]
    assert chip.snn.compute == pytest.approx(76 * 23.6)
    assert chip.snn.memory.input == chip.snn.memory.weight == 0
    assert chip.snn.memory.state == pytest.approx(2 * 16 * T * 4 * sram(64))  # the neuron updates: not in E_AC
    assert chip.snn.memory.output == host.snn.memory.output > 0
    assert chip.ann == host.ann  # the ANN on the host, as before


class Steps(nn.Module):
    """``net`` for T steps on one input, its LIFs reset first."""

    def __init__(self, *layers: nn.Module) -> None:
        super().__init__()
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.net:
            if hasattr(module, "reset"):
                module.reset()
        return torch.stack([self.net(x) for _ in range(T)])


def conv_network() -> tuple[list[nn.Module], torch.Tensor]:
    """conv 1x1 on the image (analog) -> LIF -> conv 3x3 -> LIF -> conv 1x1. The image is 0 on its border, so the
    first LIF spikes only inside it and every spike into the 3x3 convolution reaches all 9 positions: spikingjelly's
    (kernel/stride)^2 synapses per spike are then exact, as they always are for a 1x1 convolution."""
    torch.manual_seed(0)
    first = nn.Conv2d(1, 1, 1, bias=False)
    first.weight.data.fill_(1.0)
    middle = nn.Conv2d(1, 2, 3, padding=1, bias=True)
    middle.weight.data = middle.weight.data.abs() + 0.2
    middle.bias.data.fill_(0.3)
    last = nn.Conv2d(2, 3, 1, bias=False)
    x = torch.zeros(1, 1, 6, 6)
    x[0, 0, 1:5, 1:5] = torch.tensor([[1.5, 1.2, 0.9, 1.5], [1.2, 1.5, 1.5, 0.3], [1.5, 0.2, 1.2, 1.5], [0, 1.5, 1, 2]])
    return [first, middle, last], x


def linear_network() -> tuple[list[nn.Module], torch.Tensor]:
    torch.manual_seed(1)
    layers = [nn.Linear(5, 16, bias=True), nn.Linear(16, 8, bias=False), nn.Linear(8, 3, bias=True)]
    for layer in layers:
        layer.weight.data = layer.weight.data.abs() * 3
    return layers, torch.tensor([[0.9, 1.7, 0.4, 2.5, 1.3]])  # not 0/1: the first layer's input is analog


@pytest.mark.parametrize("network", [conv_network, linear_network])
def test_memory_energy_is_spikingjellys_lemaire_estimate_where_both_apply(network):
    layers, x = network()
    # spikingjelly sizes buffers from the tensors it sees, the batch included: it runs one image; ours counts three
    # copies and gives per image
    snn = Steps(layers[0], make_lif(LIFConfig()), layers[1], make_lif(LIFConfig()), layers[2])
    counts = counted(snn, x.repeat(3, *[1] * (x.dim() - 1)))
    assert [c.input for c in counts] == [ANALOG, SPIKES, SPIKES] and all(c.sops > 0 for c in counts[1:])
    ours = estimate_energy(counts, images=3, profile="45nm-int32")  # Lemaire's constants, 32-bit words
    theirs = estimate_lemaire_energy(snn, x, config=LemaireEnergyConfig(strict=True))

    def total(net: str, *parts: str) -> float:
        return sum(getattr(getattr(layer, net).memory, part) for layer in ours.layers for part in parts)

    assert theirs.counts["synop"] == sum(c.sops for c in counts) / 3
    assert total("snn", "input", "output") == pytest.approx(theirs.breakdown_pj["inout_pj"], rel=1e-12)
    assert total("snn", "weight") == pytest.approx(theirs.breakdown_pj["params_pj"], rel=1e-12)
    assert total("snn", "state") == pytest.approx(theirs.breakdown_pj["potential_pj"], rel=1e-12)
    assert sum(layer.snn.memory.total for layer in ours.layers) == pytest.approx(theirs.breakdown_pj["memory_pj"])

    # the same-shape ANN: the same layers without neurons, one pass
    ann = estimate_lemaire_energy(nn.Sequential(*layers), x, config=LemaireEnergyConfig(strict=True))
    assert ann.counts["mac"] == sum(c.macs for c in counts) / 3 / T
    assert total("ann", "input", "output") == pytest.approx(ann.breakdown_pj["inout_pj"], rel=1e-12)
    assert total("ann", "weight") == pytest.approx(ann.breakdown_pj["params_pj"], rel=1e-12)
    assert total("ann", "state") == ann.breakdown_pj["potential_pj"] == 0
    bias_adds = ann.counts["ac"]  # spikingjelly adds each bias; the compute here counts MACs only
    cost = get_profile("45nm-int32")
    assert sum(layer.ann.compute for layer in ours.layers) == pytest.approx(
        ann.breakdown_pj["ops_pj"] - bias_adds * cost.e_ac_pj
    )


def digits_model() -> nn.Module:
    return lively_weights(build_model("digits", "0302 0030 3003 0000", celltype="backward"), 1).eval()


def test_the_report_shows_compute_memory_and_totals_and_the_rates_meet_at_break_even():
    model = digits_model()
    x = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    report = energy_report(model, count_operations(model, [x]))
    t = report.totals()
    assert t["snn_energy_pj"] == pytest.approx(t["snn_compute_pj"] + t["snn_memory_pj"])
    assert t["ann_energy_pj"] == pytest.approx(t["ann_compute_pj"] + t["ann_memory_pj"])
    assert t["snn_memory_pj"] > 0 and t["ann_memory_pj"] > 0
    for row in report.layers:
        parts = row.snn_input_pj + row.snn_weight_pj + row.snn_output_pj + row.snn_state_pj
        assert row.snn_memory_pj == pytest.approx(parts) and row.snn_total_pj == pytest.approx(
            row.snn_compute_pj + parts
        )
    # the break-even rate: with every measured spike scaled to it, the SNN's total is the ANN's
    rate, measured = report.break_even_rate, t["mean_firing_rate"]
    assert 0 < measured < 1 and rate is not None and rate > 0
    silent, snn, ann = t["silent_snn_pj"], t["snn_energy_pj"], t["ann_energy_pj"]
    assert silent + (snn - silent) * rate / measured == pytest.approx(ann)
    assert (rate > measured) == (report.ratio < 1)


def test_an_snn_that_costs_more_than_the_ann_without_spikes_has_no_break_even():
    # LIF -> conv 1x1 (one channel) on a 32x32 image: the ANN does 1024 MACs, reads 1024 inputs and writes 1024
    # outputs (1 KB buffers); the silent SNN's LIF reads and writes its 1024 potentials at each of 5 steps
    image = torch.zeros(1, 1, 32, 32)
    image[0, 0, 3, 4] = 1.5
    estimate = estimate_energy(counted(OneLayer(nn.Conv2d(1, 1, 1, bias=False)), image), 1, "45nm-int8")
    assert estimate.silent_snn_pj == pytest.approx(2 * 1024 * T * sram(1024))
    assert estimate.ann_pj == pytest.approx(1024 * 0.23 + 2 * 1024 * sram(1024) + 1024 * sram(1))
    assert estimate.mean_firing_rate > 0 and estimate.break_even_rate is None


@pytest.mark.usefixtures("one_thread")
def test_energy_is_a_search_objective_and_the_front_is_non_dominated_in_score_and_energy(capsys, tmp_path):
    run_dir = tmp_path / "run"
    args = ["--dataset", "digits", "-n", "4", "--batch-size", "32", "--seed", "3", "--device", "cpu", "--quiet"]
    code, out, err = run_cli(capsys, "search", *args, "--objectives", "sahd,energy", "--run-dir", str(run_dir))
    assert code == 0, err
    objective = parse_objectives("sahd,energy")[1]
    assert objective.name == "energy" and objective.direction == "min"
    rows = csv_rows(run_dir)
    energies = [float(row["energy_pj"]) for row in rows]
    assert all(e > 0 for e in energies) and len(set(energies)) == len(energies)
    # the front: the candidates no other beats in score (up) and energy (down)
    points = {row["index"]: (-float(row["score"]), float(row["energy_pj"])) for row in rows}
    front = {i for i, p in points.items() if not any(dominates(q, p) for q in points.values())}
    assert front == {row["index"] for row in rows if row["front"] == "1"}
    with open(run_dir / "pareto.csv", newline="") as f:
        pareto = list(csv.DictReader(f))
    assert {row["index"] for row in pareto} == front
    assert "nJ/image" in out and all(f"{float(row['energy_pj']) / 1e3:.4g}" in out for row in pareto)

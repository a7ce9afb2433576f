"""The spike monitor counts exactly: hand-computed LIF spike trains, both step modes, a real model."""

from __future__ import annotations

import torch
from helpers import lively_weights
from torch import nn

from snasnet.measure.spikes import SpikeMonitor
from snasnet.network.model import build_model
from snasnet.network.neuron import LIFConfig, make_lif


class OneLIF(nn.Module):
    """One LIF layer of 3 neurons fed constant inputs for T steps."""

    def __init__(self, multi: bool) -> None:
        super().__init__()
        self.lif = make_lif(LIFConfig())
        self.multi = multi

    def lif_layers(self):
        return [("lif", self.lif)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.lif.reset()
        if self.multi:
            self.lif.step_mode = "m"
            return self.lif(x.expand(5, *x.shape))
        self.lif.step_mode = "s"
        return torch.stack([self.lif(x) for _ in range(5)])


def test_hand_computed_spike_counts_in_both_step_modes():
    # tau = 4/3: h <- h + (x - h) * 3/4. Input 1.5 fires every step (h1 = 1.125); 1.2 every second step
    # (h = 0.9, then 1.125); 0.9 never (h rises towards 0.9). Over T = 5: 5 + 2 + 0 = 7 spikes per image.
    x = torch.tensor([[1.5, 1.2, 0.9]]).repeat(2, 1)  # two images
    for multi in (False, True):
        model = OneLIF(multi)
        with SpikeMonitor(model) as monitor:
            out = model(x)
        assert out.sum(0).tolist() == [[5.0, 2.0, 0.0]] * 2
        assert monitor.images == 2
        assert monitor.spikes_per_image() == {"lif": 7.0}
        assert abs(monitor.firing_rates()["lif"] - 7 / 15) < 1e-12
        assert abs(monitor.mean_firing_rate() - 7 / 15) < 1e-12


def test_monitor_on_a_model_agrees_with_direct_counting_and_across_paths():
    model = lively_weights(build_model("cifar100", "0302 0030 3003 0000", channels=8, classifier_width=64), 1).eval()
    x = torch.randn(3, 3, 32, 32)
    summaries = {}
    for path, skip in (("reference", True), ("fast", False), ("fast", True)):
        model.skip_unused_feedback = skip
        with SpikeMonitor(model) as monitor, torch.no_grad():
            model(x, path=path)
            model(x[:1], path=path)
        summaries[path, skip] = (monitor.summary(), {n: s.image_steps for n, s in monitor.stats.items()})
    (ref, ref_steps), (fast, _), (skipping, skip_steps) = summaries.values()
    assert ref["images"] == fast["images"] == 4
    assert ref["spikes_per_image"] == fast["spikes_per_image"]
    assert ref["firing_rates"] == fast["firing_rates"]
    # skipping the unused last-step feedback: the feedback edges run T-1 = 4 steps, the rest are the same
    feedback = {"cell1.cell_architecture_back.1.0", "cell2.cell_architecture_back.1.0"}
    for name, steps in ref_steps.items():
        assert skip_steps[name] == (steps * 4 // 5 if name in feedback else steps)
        if name not in feedback:
            assert skipping["spikes_per_image"][name] == ref["spikes_per_image"][name]
    assert 0.01 < ref["mean_firing_rate"] < 0.9
    assert abs(ref["total_spikes_per_image"] - sum(ref["spikes_per_image"].values())) < 1e-6
    # direct count for one layer: downconv1's LIF, T steps of [B, 128, 32, 32] with batch 3 then 1
    total = 0.0

    def count(module, inputs, output):
        nonlocal total
        total += float(output.sum())

    handle = model.downconv1[1].register_forward_hook(count)
    with torch.no_grad():
        model(x, path="reference")
        model(x[:1], path="reference")
    handle.remove()
    assert abs(ref["spikes_per_image"]["downconv1.1"] - total / 4) < 1e-9


def test_detached_monitor_stops_counting():
    model = OneLIF(multi=False)
    monitor = SpikeMonitor(model)
    model(torch.ones(1, 3) * 1.5)
    monitor.detach()
    model(torch.ones(1, 3) * 1.5)
    assert monitor.spikes_per_image() == {"lif": 15.0}

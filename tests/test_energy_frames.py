"""Energy of a frames network: its stem receives events, priced as SOPs weighted by the event counts (hand-computed
on one event), not as the dense MACs of a static image's stem."""

from __future__ import annotations

import pytest
import torch
from helpers import lively_weights

from exporters.energy import count_operations, energy_report
from snasnet.measure.complexity import complexity
from snasnet.measure.synops import ANALOG, EVENTS
from snasnet.network.model import build_model

pytestmark = pytest.mark.usefixtures("one_thread")
ARCH = "0302 0030 3003 0000"


def frames_model(timesteps: int = 3):
    return lively_weights(build_model("digits-dvs", ARCH, timesteps=timesteps, channels=4), seed=1).eval()


def stem_row(counts):
    return next(c for c in counts.layers if c.name == "stem.0")


def test_events_into_the_stem_cost_their_count_times_the_fan_out():
    model = frames_model()
    frames = torch.zeros(2, 3, 2, 20, 20)
    frames[0, 1, 1, 5, 7] = 3  # image 0: 3 ON events at an inner pixel in time bin 1
    frames[1, 0, 0, 0, 0] = 1  # image 1: one OFF event at the corner in bin 0
    counts = count_operations(model, [frames])
    stem = stem_row(counts)
    assert stem.input == EVENTS
    channels = model.stem[0].out_channels
    # an inner pixel reaches 3x3 output positions, the corner 2x2 (padding 1, stride 1), each x out channels
    assert stem.sops == (3 * 9 + 1 * 4) * channels
    assert counts.calls_per_image(stem) == 3  # the stem runs at every step
    report = energy_report(model, counts)
    row = next(r for r in report.layers if r.layer == "stem.0")
    assert row.sops == (3 * 9 + 4) * channels / 2  # per image
    assert row.snn_compute_pj == pytest.approx(row.sops * report.profile.e_ac_pj)
    assert any("stem.0 receives the event frames" in note for note in report.notes)


def test_frames_that_are_not_counts_are_priced_as_dense_macs():
    model = frames_model()
    counts = count_operations(model, [torch.rand(2, 3, 2, 20, 20)])
    assert stem_row(counts).input == ANALOG and stem_row(counts).sops == 0


def test_a_static_networks_stem_stays_analog():
    model = lively_weights(build_model("digits", ARCH), seed=1).eval()
    assert stem_row(count_operations(model, [torch.randn(2, 1, 8, 8)])).input == ANALOG


def test_a_frames_networks_stem_macs_are_counted_at_every_step():
    static = complexity(build_model("digits-dvs", ARCH, timesteps=3, channels=4, input="static"))
    frames = complexity(build_model("digits-dvs", ARCH, timesteps=3, channels=4))
    assert static.stem_macs == 2 * 9 * 4 * 20 * 20 and frames.stem_macs == 0
    assert frames.macs_per_image == static.macs_per_image + 2 * static.stem_macs  # T=3 stem passes, not 1

"""Energy report: exact hand-computed counts, agreement with spikingjelly's SynOpCounter, pricing, files."""

from __future__ import annotations

import csv
import json

import pytest
import torch
from golden_data import GOLDEN_ARCH
from helpers import lively_weights
from spikingjelly.activation_based.op_counter import DispatchCounterMode, SynOpCounter
from torch import nn

from exporters.energy import count_operations, energy_report
from exporters.energy_chart import write_energy_chart
from exporters.energy_profiles import get_profile, list_profiles
from snasnet.core.errors import ConfigError
from snasnet.measure.complexity import complexity
from snasnet.measure.spikes import SpikeMonitor
from snasnet.measure.synops import ANALOG, POOLED, SPIKES, SynapticCounter, conv_fanout
from snasnet.network.model import build_model
from snasnet.network.neuron import LIFConfig, make_lif

T = 5
# tau = 4/3 (tests/test_spikes.py): input 1.5 fires at every step, 1.2 at every second step, 0.9 never.
# Over 5 steps: 5 + 2 + 0 = 7 spikes.


class OneLayer(nn.Module):
    """LIF -> layer, run for T steps on a constant input."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.net = nn.Sequential(make_lif(LIFConfig()), layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.net[0].reset()
        return torch.stack([self.net(x) for _ in range(T)])


def run_counted(model: nn.Module, x: torch.Tensor):
    counter = SynapticCounter(model)
    with torch.no_grad():
        model(x)
    (layer,) = counter.finish()
    return layer


def image_4x4() -> torch.Tensor:
    x = torch.zeros(1, 1, 4, 4)
    x[0, 0, 0, 0], x[0, 0, 1, 1], x[0, 0, 2, 3] = 1.5, 1.2, 0.9  # a corner, an inner pixel, a silent one
    return x


def test_one_conv_network_hand_computed():
    # 3x3, padding 1, 2 output channels on 4x4: a corner spike reaches 2x2 output positions x 2 channels = 8
    # synapses, an inner one 3x3 x 2 = 18. Corner: 5 spikes x 8; inner: 2 spikes x 18. 40 + 36 = 76.
    layer = run_counted(OneLayer(nn.Conv2d(1, 2, 3, padding=1, bias=False)), image_4x4())
    assert layer.name == "net.1" and layer.source == "net.0" and layer.input == SPIKES
    assert layer.sops == 76
    assert layer.image_steps == T
    assert layer.input_sum / layer.input_numel == 7 / (16 * T)  # input firing rate


def test_one_conv_network_with_stride_hand_computed():
    # stride 2: outputs 0 and 1 of each axis cover inputs {0, 1} and {1, 2, 3}: fan-out per axis [1, 2, 1, 1].
    # Corner: 1 x 1 x 2 channels = 2 per spike (x5 = 10); pixel (1, 1): 2 x 2 x 2 = 8 (x2 = 16). Total 26.
    conv = nn.Conv2d(1, 2, 3, stride=2, padding=1, bias=False)
    assert conv_fanout(conv, 4, 4).tolist() == [
        [1, 2, 1, 1],
        [2, 4, 2, 2],
        [1, 2, 1, 1],
        [1, 2, 1, 1],
    ]
    assert run_counted(OneLayer(conv), image_4x4()).sops == 26


def test_one_linear_layer_counts_spikes_times_out_features():
    layer = run_counted(OneLayer(nn.Linear(3, 4, bias=False)), torch.tensor([[1.5, 1.2, 0.9]]))
    assert layer.kind == "linear" and layer.sops == 7 * 4


def test_layer_fed_by_non_spike_values_is_analog():
    model = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1))  # no LIF before it: the image
    layer = run_counted(model, image_4x4())
    assert layer.input == ANALOG and layer.sops == 0 and layer.source is None


def digits_model(arch="0302 0030 3003 0000", celltype="backward", **kwargs):
    return lively_weights(build_model("digits", arch, celltype=celltype, **kwargs), 1).eval()


def images(n=32, seed=0):
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(
    ("arch", "celltype"), [("0302 0030 3003 0000", "backward"), ("0342 0000 0003 0000", "forward")]
)
def test_sops_agree_with_spikingjelly_synopcounter(arch, celltype):
    # second_avgpooling 1: every conv/linear input is binary, which is what SynOpCounter counts
    model = digits_model(arch, celltype, second_avgpooling=1)
    x = images()
    counts = count_operations(model, [x[:16], x[16:]], count_unused_feedback=True)
    counter = SynOpCounter()
    model.skip_unused_feedback = False
    with torch.no_grad(), DispatchCounterMode([counter]):
        model(x[:16])
        model(x[16:])
    theirs = {name: sum(ops.values()) for name, ops in counter.get_counts().items()}
    for layer in counts.layers:
        expected = 0 if layer.input == ANALOG else theirs[f"SNASNet.{layer.name}"]
        assert layer.sops == expected, layer.name
    assert sum(layer.sops for layer in counts.layers) == counter.get_total() > 0


def test_pooled_spikes_into_the_classifier_count_each_spike_once_per_output():
    model = digits_model()  # second_avgpooling 2: classifier.1 gets last_act's spikes averaged 2x2
    x = images()
    with SpikeMonitor(model) as monitor, torch.no_grad():
        model(x)
    counts = count_operations(model, [x])
    fc = next(layer for layer in counts.layers if layer.name == "classifier.1")
    assert fc.input == POOLED and fc.source == "last_act.1" and fc.pool_area == 4
    spikes = monitor.spikes_per_image()["last_act.1"] * len(x)  # 4x4 pooled 2x2: every spike is under a window
    assert fc.sops == pytest.approx(spikes * model.preset.classifier_width, rel=1e-9)


def test_input_firing_rates_are_the_feeding_lif_layers_rates():
    model = digits_model("0141 2000 0303 3210")
    report = energy_report(model, count_operations(model, [images()]))
    for row in report.layers:
        if row.input == SPIKES:
            assert row.input_firing_rate == pytest.approx(report.lif_firing_rates[row.source], rel=1e-6), row.layer
    # the arch's skip and avgpool edges carry analog node sums; convolutions still receive spikes only
    assert any("0->1 skip" in note and "1->0" not in note for note in report.notes)
    assert [row.layer for row in report.layers if row.input == ANALOG] == ["stem.0"]


def test_report_prices_compute_as_sops_and_macs_with_the_profile_and_compares_with_the_ann():
    model = digits_model()
    counts = count_operations(model, [images()])
    cost = complexity(model)
    for name in ("45nm-fp32", "45nm-int8", "loihi"):
        profile = get_profile(name)
        report = energy_report(model, counts, name)
        stem = report.layers[0]
        assert stem.layer == "stem.0" and stem.snn_compute_pj == pytest.approx(cost.stem_macs * profile.e_mac_pj)
        for row in report.layers[1:]:
            assert row.snn_compute_pj == pytest.approx(row.sops * profile.e_ac_pj)
        ann = (cost.stem_macs + cost.macs_per_timestep) * profile.e_mac_pj
        assert report.totals()["ann_compute_pj"] == pytest.approx(ann)
        assert report.ratio == pytest.approx(report.snn_energy_pj / report.ann_energy_pj)
    # dense MACs per image: every layer at every step, but the last step's unused feedback
    report = energy_report(model, counts)
    feedback = {"cell1.cell_architecture_back.1.1", "cell2.cell_architecture_back.1.1"}
    assert {row.layer: row.calls_per_image for row in report.layers if row.layer in feedback} == dict.fromkeys(
        feedback, T - 1
    )
    skipped = sum(row.ann_macs for row in report.layers if row.layer in feedback)  # one step each
    assert sum(row.dense_macs for row in report.layers) == cost.macs_per_image - skipped


def test_profiles_have_sources_and_unknown_ones_are_refused():
    assert {"45nm-fp32", "45nm-fp16", "45nm-int8", "loihi", "spinnaker2", "truenorth"} <= set(list_profiles())
    fp32 = get_profile("45nm-fp32")
    assert (fp32.e_mac_pj, fp32.e_ac_pj) == (4.6, 0.9) and "Horowitz" in fp32.source
    assert get_profile("loihi").e_ac_pj == 23.6
    with pytest.raises(ConfigError, match="unknown energy profile 'tpu'"):
        get_profile("tpu")


def test_report_files(tmp_path):
    model = digits_model()
    report = energy_report(model, count_operations(model, [images(16)]))
    data = json.loads(report.write_json(tmp_path / "energy.json").read_text())
    assert data["totals"]["snn_energy_pj"] == pytest.approx(report.snn_energy_pj)
    assert [row["layer"] for row in data["layers"]] == [row.layer for row in report.layers]
    with open(report.write_csv(tmp_path / "energy.csv")) as f:
        rows = list(csv.DictReader(f))
    assert rows[-1]["layer"] == "total"
    for column in ("snn_compute_pj", "snn_memory_pj", "snn_total_pj", "ann_total_pj"):
        assert float(rows[-1][column]) == pytest.approx(sum(float(r[column]) for r in rows[:-1])), column
    assert float(rows[-1]["snn_total_pj"]) == pytest.approx(report.snn_energy_pj)
    assert float(rows[-1]["break_even_rate"]) == pytest.approx(report.break_even_rate)
    png = write_energy_chart(report, tmp_path / "energy.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000


def test_golden_cifar100_every_cell_convolution_receives_spikes(golden_state_dict, golden_images):
    model = build_model("cifar100", GOLDEN_ARCH)
    model.load_state_dict(golden_state_dict)
    report = energy_report(model, count_operations(model, [golden_images[:4]]))
    inputs = {row.layer: row.input for row in report.layers}
    assert inputs.pop("stem.0") == ANALOG and inputs.pop("classifier.1") == POOLED
    assert set(inputs.values()) == {SPIKES}, inputs
    # the weights make every layer fire at 5-35% (golden README): SOPs well below dense MACs
    assert 0 < report.total_sops < 0.5 * report.totals()["snn_dense_macs"]
    assert 0 < report.ratio < 1


def test_report_files_are_replaced_whole_or_not_at_all(tmp_path, monkeypatch):
    """A failure while writing (here: at the first layer's row) leaves the previous files, and no temporary."""
    import exporters.energy as energy

    model = digits_model()
    report = energy_report(model, count_operations(model, [images(16)]))
    old_csv = report.write_csv(tmp_path / "energy.csv").read_text()
    old_json = report.write_json(tmp_path / "energy.json").read_text()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(energy, "asdict", broken)
    for write in (report.write_csv, report.write_json):
        with pytest.raises(OSError, match="disk full"):
            write(tmp_path / f"energy.{write.__name__[-3:]}")
    assert (tmp_path / "energy.csv").read_text() == old_csv and (tmp_path / "energy.json").read_text() == old_json
    assert sorted(p.name for p in tmp_path.iterdir()) == ["energy.csv", "energy.json"]

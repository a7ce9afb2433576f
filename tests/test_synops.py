"""A candidate's cost at initialisation (snasnet.measure.synops): SOPs, dense MACs and parameters from the scoring
pass."""

from __future__ import annotations

import torch
from helpers import lively_weights

from snasnet.measure.complexity import complexity
from snasnet.measure.spikes import SpikeMonitor
from snasnet.measure.synops import SPIKES, CostCounter, SynapticCounter
from snasnet.network.model import build_model


def digits_model(arch: str = "0302 0030 3003 0000", **kwargs) -> torch.nn.Module:
    return lively_weights(build_model("digits", arch, **kwargs), 1)


def images(n: int = 24) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(0))


def test_dense_macs_and_params_of_a_train_mode_pass_are_the_networks_complexity():
    # the search counts in train mode, where every step of every edge runs: MACs per image are then exactly the
    # network's dense MACs (stem once, the rest T times) that `snasnet arch` prints
    for arch, celltype in (("0302 0030 3003 0000", "backward"), ("0342 0000 0003 0000", "forward")):
        model = digits_model(arch, celltype=celltype).train()
        with torch.no_grad(), CostCounter(model) as counter:
            model(images()[:16])
            model(images()[16:])
        expected = complexity(model)
        cost = counter.cost()
        assert cost.macs == expected.macs_per_image, arch
        assert cost.params == expected.params
        assert cost.sops > 0


def test_the_classifier_after_dropout_counts_the_spikes_a_deployed_network_feeds_it():
    # in train mode dropout zeroes half of the last LIF's spikes and doubles the others: the first classifier
    # layer is counted on what comes before the dropout, every spike of the last LIF x its output features
    model = digits_model(second_avgpooling=1).train()
    with torch.no_grad(), CostCounter(model) as counter, SpikeMonitor(model) as monitor:
        model(images())
    layer = next(c for c in counter.layers if c.name == "classifier.1")
    assert layer.input == SPIKES
    spikes = monitor.spikes_per_image()["last_act.1"] * monitor.images
    assert spikes > 0
    assert layer.sops == spikes * model.classifier[1].out_features


def test_cost_is_per_image():
    model = digits_model().eval()
    x = images()
    with torch.no_grad(), CostCounter(model) as once:
        model(x)
    with torch.no_grad(), CostCounter(model) as twice:
        model(x)
        model(x)
    assert twice.images == 2 * once.images == 48
    assert twice.cost() == once.cost()


def test_the_searchs_unchecked_count_equals_the_checked_one_of_export_energy():
    # a search trusts that a LIF feeds spikes; the exporter's counter checks every value: same counts
    model = digits_model("0342 0000 0003 0000", celltype="forward").train()
    checked = SynapticCounter(model)
    with torch.no_grad(), CostCounter(model) as counter:
        model(images())
    expected = {c.name: (c.input, c.sops, c.macs) for c in checked.finish()}
    assert {c.name: (c.input, c.sops, c.macs) for c in counter.layers} == expected
    assert counter.cost().sops == sum(sops for _, sops, _ in expected.values()) / 24 > 0

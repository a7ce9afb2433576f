"""NIR export: the file reads back unchanged, holds NIR's continuous-time LIF and recurrent edges for the
backward cell, and simulated with nirtorch for T steps computes what the model computes."""

from __future__ import annotations

import json

import nir
import numpy as np
import pytest
import torch
from golden_data import GOLDEN_ARCH, export_holds
from helpers import lively_weights

from exporters.folding import bn_affine
from exporters.nir import export_nir, to_nir
from exporters.nir_simulation import simulate_nir
from exporters.parity import compare_scores, torch_scores
from snasnet.core.errors import ConfigError
from snasnet.network.model import build_model

ARCHS = [
    ("0302 0030 3003 0000", "backward"),
    ("0342 0000 0003 0000", "forward"),
    ("0141 2000 0303 3210", "backward"),  # feedback into nodes 0, 1 and 2, a backward skip edge
]


def digits_model(arch="0302 0030 3003 0000", celltype="backward", **kwargs):
    return lively_weights(build_model("digits", arch, celltype=celltype, **kwargs), 1).eval()


def images(n=64, seed=0):
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def test_file_reads_back_with_every_node_edge_parameter_and_metadata(tmp_path):
    model = digits_model()
    graph = to_nir(model)
    back = nir.read(export_nir(model, tmp_path / "model.nir"))
    assert set(back.nodes) == set(graph.nodes)
    assert sorted(back.edges) == sorted(graph.edges)
    for name, node in graph.nodes.items():
        read = back.nodes[name]
        assert type(read) is type(node), name
        for key, value in node.to_dict().items():
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(read.to_dict()[key], value, err_msg=f"{name}.{key}")
    assert float(back.metadata["dt"]) == 1e-4 and int(back.metadata["timesteps"]) == 5
    assert back.metadata["arch"] == "0302 0030 3003 0000"
    # nir.read returns nodes in name order: that order is the forward order (tools cut cycles by order)
    names = [n for n in back.nodes if n.startswith("n")]
    assert names == sorted(names) == [n for n in graph.nodes if n.startswith("n")]


def test_lif_neurons_have_nirs_continuous_time_parameters_uniform_as_importers_want():
    model = digits_model()
    graph = to_nir(model, dt=1e-3)
    lifs = {name: node for name, node in graph.nodes.items() if isinstance(node, nir.LIF)}
    assert len(lifs) == len(model.lif_layers())
    for node in lifs.values():
        np.testing.assert_allclose(node.tau, 4 / 3 * 1e-3, rtol=1e-6)  # tau in steps x dt
        # NIR fires on v > v_threshold, the model on v >= 1: the float32 just below 1 makes them the same
        assert (node.v_threshold == np.float32(1 - 2**-24)).all() and (node.v_reset == 0.0).all()
        # uniform r = 1 and v_leak = v_reset: what snnTorch and spikingjelly accept
        assert (node.r == 1).all() and (node.v_leak == 0).all()
    assert lifs["n003_cell1_e01_0_lif"].r.shape == (32, 8, 8)
    # the output group average folded into the last affine layer: one output per class
    assert list(graph.nodes["output"].output_type["output"]) == [10]


def test_batch_norm_before_a_lif_is_a_diagonal_1x1_convolution():
    model = digits_model()
    graph = to_nir(model)
    bn = next(node for name, node in graph.nodes.items() if name.endswith("downconv1_0_bn"))
    scale, shift = bn_affine(model.downconv1[0])
    assert isinstance(bn, nir.Conv2d) and bn.weight.shape == (32, 32, 1, 1) and bn.groups == 1
    np.testing.assert_array_equal(np.diagonal(bn.weight[:, :, 0, 0]), scale.numpy())
    assert np.count_nonzero(bn.weight) == np.count_nonzero(scale.numpy())  # off the diagonal: exact zeros
    np.testing.assert_array_equal(bn.bias, shift.numpy())


def test_a_forward_cell_has_no_junction_nodes_only_nir_types_every_importer_maps():
    graph = to_nir(digits_model("0342 0000 0003 0000", "forward"))
    kinds = {type(node).__name__ for node in graph.nodes.values()}
    assert kinds == {"Input", "Conv2d", "LIF", "Flatten", "Linear", "Affine", "Output"}  # pools: Conv2d
    assert "Scale" not in kinds and json.loads(graph.metadata["recurrent_edges"]) == []
    # cell node 3 = e03 + e23: the two convolutions' edges go straight into downconv1's batch norm
    into_bn = sorted(src.split("_", 1)[1] for src, dst in graph.edges if dst.endswith("downconv1_0_bn"))
    assert into_bn == ["cell1_e03_1_conv", "cell1_e23_1_conv"]
    # cell node 0 (the stem) fans out to the edges e02 and e03: one edge to each consumer (e01 leads to node 1,
    # which feeds nothing: a dead end, left out and named in the metadata)
    from_stem = sorted(dst.split("_", 1)[1] for src, dst in graph.edges if src.endswith("stem_0_conv"))
    assert from_stem == ["cell1_e02_avgpool", "cell1_e03_0_lif"]
    assert json.loads(graph.metadata["dropped_dead_ends"]) == [
        "cell1_e01_0_lif",
        "cell1_e01_1_conv",
        "cell2_e01_0_lif",
        "cell2_e01_1_conv",
    ]


def test_average_pooling_is_a_fixed_convolution_within_each_channel():
    """Norse maps no NIR AvgPool2d: each pool is a Conv2d weighting a channel's window 1/k^2 and nothing across
    channels, which computes the model's pooling (its pools count the padding in)."""
    model = digits_model("0342 0000 0003 0000", "forward")
    graph = to_nir(model)
    pools = {name.split("_", 1)[1]: node for name, node in graph.nodes.items() if name.endswith("avgpool")}
    assert set(pools) == {"cell1_e02_avgpool", "resdownsample1_avgpool", "cell2_e02_avgpool", "resdownsample2_avgpool"}
    pool = pools["cell1_e02_avgpool"]
    assert isinstance(pool, nir.Conv2d) and pool.weight.shape == (32, 32, 3, 3)
    assert np.count_nonzero(pool.weight) == 32 * 9  # off each channel's own window: exact zeros
    np.testing.assert_array_equal(np.diagonal(pool.weight), np.full((3, 3, 32), 1 / 9, np.float32))
    x = torch.randn(4, 32, 8, 8, generator=torch.Generator().manual_seed(0))
    conv = torch.nn.functional.conv2d(x, torch.from_numpy(pool.weight), torch.from_numpy(pool.bias), padding=1)
    torch.testing.assert_close(conv, model.cell1.forward_edge(0, 2)(x), rtol=0, atol=1e-6)


@pytest.mark.parametrize(("arch", "celltype"), ARCHS)
def test_the_depth_first_preorder_of_the_file_runs_every_node_after_its_inputs(tmp_path, arch, celltype):
    """Norse's loader (nirtorch.load) runs nodes in depth-first preorder from the input, each node's edges in
    file order. In the file that preorder is the node order, every edge goes forward in it except the
    recurrent ones, and the zero nodes that put a branch after the one before it add exactly 0."""
    from nirtorch.graph_utils import trace_execution

    graph = nir.read(export_nir(digits_model(arch, celltype), tmp_path / "model.nir"))
    children = {}
    for src, dst in graph.edges:
        children.setdefault(src, []).append(dst)
    order = trace_execution("input", lambda node: children.get(node, []))
    assert order == ["input", *(n for n in graph.nodes if n.startswith("n")), "output"]
    position = {name: i for i, name in enumerate(order)}
    recurrent = {tuple(e.split(" -> ")) for e in json.loads(graph.metadata["recurrent_edges"])}
    assert {e for e in graph.edges if position[e[0]] >= position[e[1]]} == recurrent
    zeros = json.loads(graph.metadata["zero_nodes"])
    assert zeros == [name for name in graph.nodes if name.endswith("_wait")] != []
    assert all(not graph.nodes[name].weight.any() and not graph.nodes[name].bias.any() for name in zeros)


def test_backward_edges_are_recurrent_edges_into_their_destination_node():
    graph = to_nir(digits_model("0141 2000 0303 3210"))
    recurrent = json.loads(graph.metadata["recurrent_edges"])
    # per cell: e10 and e30 into node 0, e21 and e31 into node 1, the backward skip 3 -> 2 into node 2
    assert len(recurrent) == 10
    for edge in recurrent:
        src, dst = edge.split(" -> ")
        assert (src, dst) in graph.edges
        assert src > dst, "a recurrent edge goes back to an earlier node: it closes a cycle"
    # the backward skip is an identity node of its own, so that its delay has a place
    [skip_name] = [name for name in graph.nodes if name.endswith("cell1_e32_identity")]
    [node2] = [name for name in graph.nodes if name.endswith("cell1_node2")]
    assert f"{skip_name} -> {node2}" in recurrent
    skip = graph.nodes[skip_name]
    np.testing.assert_array_equal(skip.weight[:, :, 0, 0], np.eye(32, dtype=np.float32))
    assert (skip.bias == 0).all()


def test_a_backward_edge_that_closes_no_cycle_is_refused():
    """b1 = e21(x2) feeds node 1, which never reaches node 2: a pure delay, which a reader of NIR cycles would
    take for a same-step edge. The old export wrote it anyway (a silently different network)."""
    with pytest.raises(ConfigError, match=r"cell1_e21_1_conv -> cell1_node1 is a pure one-step delay"):
        to_nir(digits_model("0333 0003 0303 0000"))


def test_a_node_fed_by_feedback_only_is_refused_rather_than_hanging_the_importers():
    """Node 1 of 0001 0010 0001 0100 gets only e31's feedback: nirtorch (and so snnTorch and spikingjelly)
    waits for a node's only input when it is a recurrent one, forever."""
    with pytest.raises(ConfigError, match="cell1_node1 receives feedback only"):
        to_nir(digits_model("0001 0010 0001 0100"))


@pytest.mark.parametrize(("arch", "celltype"), ARCHS)
def test_simulated_nir_graph_computes_the_model(tmp_path, arch, celltype):
    model = digits_model(arch, celltype)
    x = images()
    path = export_nir(model, tmp_path / "model.nir")
    parity = compare_scores(simulate_nir(path, x), torch_scores(model, x))
    assert parity.passed and parity.logits_close >= 62, parity.summary()


def test_without_recurrent_edges_the_simulation_is_a_different_network():
    """The recurrent edges matter: dropping them (what NIR would lose without cycles) breaks parity."""
    model = digits_model()
    graph = to_nir(model)
    recurrent = {tuple(e.split(" -> ")) for e in json.loads(graph.metadata["recurrent_edges"])}
    graph.edges = [e for e in graph.edges if e not in recurrent]
    x = images()
    parity = compare_scores(simulate_nir(graph, x), torch_scores(model, x))
    assert parity.logits_close < 32, parity.summary()


def test_what_nir_cannot_express_is_refused_with_the_reason():
    with pytest.raises(ConfigError, match="hard reset only"):
        to_nir(lively_weights(build_model("digits", "0302 0030 3003 0000", v_reset=None), 1))
    # node 1 receives nothing but feeds a convolution: a constant NIR has no node for
    with pytest.raises(ConfigError, match=r"node 1 has no incoming edge.*pruned cell \(0002 0000 0000 0000\)"):
        to_nir(digits_model("0002 0030 0000 0000", "forward"))


@pytest.mark.slow
def test_golden_cifar100_weights_simulated_from_the_file(tmp_path, golden_state_dict, golden_images, golden_expected):
    """The exports' golden rule (golden_data.export_holds): rounding differences (folded batch norms, NIR's LIF
    form) flip a spike now and then on these random weights, whose class scores are near ties."""
    model = build_model("cifar100", GOLDEN_ARCH)
    model.load_state_dict(golden_state_dict)
    model.eval()
    scores = simulate_nir(export_nir(model, tmp_path / "golden.nir"), golden_images)
    for reference in (torch_scores(model, golden_images), golden_expected["logits"]):
        parity = compare_scores(scores, reference)
        assert export_holds(parity), parity.summary()

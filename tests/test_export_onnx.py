"""ONNX export: the plain-torch network is the model's, and onnxruntime reproduces PyTorch (unrolled and step)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import onnx
import pytest
import torch
from golden_data import GOLDEN_ARCH, export_holds
from helpers import lively_weights

from exporters.memory import activation_bytes_per_image, available_memory, check_batch_fits
from exporters.onnx import export_onnx, initial_state, onnx_session, run_onnx
from exporters.parity import compare_scores, torch_scores
from exporters.plain_model import PlainSNASNet
from snasnet.core.errors import ConfigError
from snasnet.measure.spikes import SpikeMonitor
from snasnet.network.model import build_model

# every op, skip and avgpool edges, feedback into every node, a node fed by zero edges only
ARCHS = [
    ("0302 0030 3003 0000", "backward"),
    ("0342 0000 0003 0000", "forward"),
    ("0141 2000 0303 3210", "backward"),
    ("0001 0000 4000 0000", "backward"),
    ("0100 0000 0000 0000", "forward"),
]


def digits_model(arch: str = "0302 0030 3003 0000", celltype: str = "backward", seed: int = 1):
    return lively_weights(build_model("digits", arch, celltype=celltype), seed).eval()


def digits_images(n: int, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("arch", "celltype"), ARCHS)
def test_plain_network_is_the_model_bit_for_bit_and_counts_the_same_spikes(arch, celltype):
    model = digits_model(arch, celltype)
    x = digits_images(24)
    with torch.no_grad(), SpikeMonitor(model) as monitor:
        expected = model(x)
    scores, spikes = PlainSNASNet(model, fold=False).run(x)
    assert torch.equal(scores, expected), f"max diff {(scores - expected).abs().max():.3g}"
    assert spikes.keys() == monitor.spikes_per_image().keys()
    for name, count in spikes.items():
        assert float(count.sum()) / len(x) == monitor.spikes_per_image()[name], name
    # folding batch norms and the group average only rounds differently
    folded, _ = PlainSNASNet(model, fold=True).run(x)
    parity = compare_scores(folded, expected)
    assert parity.passed and parity.max_abs_diff < 1e-4, parity.summary()


def test_plain_network_leaves_the_model_untouched():
    model = digits_model().train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    PlainSNASNet(model)
    assert model.training and all(m.training for m in model.modules())
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


@pytest.fixture(scope="module")
def unrolled(tmp_path_factory):
    model = digits_model()
    graph = export_onnx(model, tmp_path_factory.mktemp("onnx") / "model.onnx", spike_counts=True)
    return model, graph


def test_unrolled_graph_matches_pytorch_in_onnxruntime(unrolled):
    model, graph = unrolled
    x = digits_images(128, seed=3)
    scores, spikes = run_onnx(onnx_session(graph.path), x)
    parity = compare_scores(scores, torch_scores(model, x))
    assert parity.passed, parity.summary()
    assert parity.predictions_agree == 128 and parity.logits_close >= 126, parity.summary()
    # the spike-count outputs are the model's spikes per image, layer by layer
    with torch.no_grad(), SpikeMonitor(model) as monitor:
        model(x)
    assert list(spikes) == [name for name, _ in model.lif_layers()]
    for name, per_image in spikes.items():
        assert per_image.shape == (128,)
        assert abs(per_image.mean() - monitor.spikes_per_image()[name]) <= 0.01 * monitor.spikes_per_image()[name] + 1


def test_unrolled_graph_is_plain_onnx_with_lif_as_comparison_and_conv_batch_norms_folded(unrolled):
    model, graph = unrolled
    proto = onnx.load(graph.path)
    onnx.checker.check_model(proto)
    ops = Counter(node.op_type for node in proto.graph.node)
    assert {node.domain for node in proto.graph.node} <= {"", "ai.onnx"}, "no custom operator"
    T = model.timesteps
    # Heaviside as a comparison, hard reset as a select; at most one per LIF layer and step (LIF layers fed
    # the same values, like the two out of each cell's node 0 here, compute the same and may be merged)
    assert 0 < ops["GreaterOrEqual"] <= T * len(model.lif_layers()) and ops["Where"] > 0
    # only the two batch norms before a LIF stay (downconv1, last_act), once per step
    assert ops["BatchNormalization"] == 2 * T
    convs = sum(isinstance(m, torch.nn.Conv2d) for m in model.modules())
    assert ops["Conv"] == 1 + (convs - 1) * T - 2  # stem once, the rest per step but the last feedback
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["snasnet.arch"] == "0302 0030 3003 0000" and meta["snasnet.timesteps"] == "5"
    assert [i.name for i in proto.graph.input] == ["images"]
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a symbolic (dynamic) batch


def test_step_graph_looped_T_times_matches_the_unrolled_graph(tmp_path, unrolled):
    model, graph = unrolled
    step = export_onnx(model, tmp_path / "step.onnx", mode="step", spike_counts=True)
    assert step.state == [f"v.{name}" for name, _ in model.lif_layers()] + ["fb.cell1.0", "fb.cell2.0"]
    session = onnx_session(step.path)
    x = digits_images(40, seed=5).numpy()
    # the loop by hand: state in, next state out
    state = initial_state(session, len(x))
    assert all(not v.any() for v in state.values())  # at rest (v_reset 0), no feedback yet
    names = [o.name for o in session.get_outputs()]
    total = 0
    for _ in range(model.timesteps):
        out = dict(zip(names, session.run(None, {"images": x, **state}), strict=True))
        state = {k: out[f"next.{k}"] for k in state}
        total = total + out["scores"]
    by_hand = total / model.timesteps
    unrolled_scores, unrolled_spikes = run_onnx(onnx_session(graph.path), x)
    np.testing.assert_allclose(by_hand, unrolled_scores, atol=1e-5)
    assert (by_hand.argmax(1) == unrolled_scores.argmax(1)).all()
    looped_scores, looped_spikes = run_onnx(session, x)  # the library's loop
    np.testing.assert_allclose(looped_scores, unrolled_scores, atol=1e-5)
    # the step graph computes the last step's feedback too: only the feedback LIFs count more spikes
    feedback = {"cell1.cell_architecture_back.1.0", "cell2.cell_architecture_back.1.0"}
    for name in unrolled_spikes:
        if name not in feedback:
            np.testing.assert_array_equal(looped_spikes[name], unrolled_spikes[name])
        assert (looped_spikes[name] >= unrolled_spikes[name]).all()


def test_fixed_batch_graph_runs_any_number_of_images_in_padded_chunks(tmp_path):
    model = digits_model("0342 0000 0003 0000", "forward")
    graph = export_onnx(model, tmp_path / "b8.onnx", batch=8, exporter="torchscript")
    session = onnx_session(graph.path)
    assert session.get_inputs()[0].shape == [8, 1, 8, 8]
    x = digits_images(20, seed=7)  # 8 + 8 + 4 (padded)
    scores, _ = run_onnx(session, x)
    assert scores.shape == (20, 10)
    assert compare_scores(scores, torch_scores(model, x)).passed


def test_both_torch_exporters_give_the_same_scores(tmp_path):
    model = digits_model("0141 2000 0303 3210", "backward")
    x = digits_images(32, seed=9)
    dynamo, _ = run_onnx(onnx_session(export_onnx(model, tmp_path / "d.onnx", exporter="dynamo").path), x)
    script, _ = run_onnx(onnx_session(export_onnx(model, tmp_path / "t.onnx", exporter="torchscript").path), x)
    np.testing.assert_allclose(dynamo, script, atol=1e-5)


def test_bad_options_are_config_errors_and_leave_no_file(tmp_path):
    model = digits_model()
    for kwargs, message in (
        ({"mode": "stream"}, "unknown ONNX mode 'stream'"),
        ({"exporter": "tvm"}, "unknown ONNX exporter 'tvm'"),
        ({"batch": 0}, "batch must be a positive integer"),
    ):
        with pytest.raises(ConfigError, match=message):
            export_onnx(model, tmp_path / "x.onnx", **kwargs)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_golden_cifar100_weights_in_onnxruntime(tmp_path, golden_state_dict, golden_images, golden_expected):
    """The original network's weights: onnxruntime against PyTorch and against the original's recorded
    outputs. These random weights make many near-tied class scores, so a rounding difference (ONNX's
    convolutions, the folded batch norms) moves a prediction now and then: the golden README measured that
    even float64 flips 1 of the 32, and how many flip depends on the CPU (golden_data.export_holds)."""
    model = build_model("cifar100", GOLDEN_ARCH)
    model.load_state_dict(golden_state_dict)
    model.eval()
    graph = export_onnx(model, tmp_path / "golden.onnx")
    scores, _ = run_onnx(onnx_session(graph.path), golden_images)
    for reference in (torch_scores(model, golden_images), golden_expected["logits"]):
        parity = compare_scores(scores, reference)
        assert export_holds(parity), parity.summary()


@pytest.mark.parametrize(("exporter", "opset", "message"), [
    ("dynamo", 7, "opset 7 is not supported by the dynamo exporter: choose 18-"),
    ("dynamo", 17, "opset 17 is not supported by the dynamo exporter"),
    ("torchscript", 8, "opset 8 is not supported by the torchscript exporter: choose 9-"),
])  # fmt: skip
def test_an_opset_the_exporter_does_not_write_is_refused_before_any_work(tmp_path, exporter, opset, message):
    """dynamo asked for opset 7 used to write opset 18 (after a converter traceback) and report 7."""
    with pytest.raises(ConfigError, match=message):
        export_onnx(digits_model(), tmp_path / "x.onnx", opset=opset, exporter=exporter)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("exporter", "opset"), [("dynamo", 20), ("torchscript", 13)])
def test_the_reported_opset_is_the_files(tmp_path, exporter, opset):
    graph = export_onnx(digits_model(), tmp_path / "x.onnx", opset=opset, exporter=exporter)
    declared = [o.version for o in onnx.load(str(graph.path)).opset_import if o.domain in ("", "ai.onnx")]
    assert declared == [opset] and graph.opset == opset


def test_activations_per_image_grow_by_one_step_per_timestep():
    """The stem runs once, every other layer once per step: per image = image + stem + T x step."""
    sizes = [
        activation_bytes_per_image(lively_weights(build_model("digits", GOLDEN_ARCH, timesteps=t), 1))
        for t in (1, 2, 3)
    ]
    image = 1 * 8 * 8 * 4
    assert sizes[2] - sizes[1] == sizes[1] - sizes[0] > 0
    # one step holds at least the cell's three nodes at the stem's width, 32 x 8 x 8 floats each
    assert sizes[1] - sizes[0] >= 3 * 32 * 8 * 8 * 4 and sizes[0] > image


def test_a_fixed_batch_that_cannot_fit_is_refused_naming_the_largest_that_does():
    model = digits_model()
    per_image = activation_bytes_per_image(model)
    check_batch_fits(model, 100, available=100 * per_image)  # fits exactly: no error
    with pytest.raises(ConfigError, match=r"^--batch 101 needs about .* the largest batch that fits is 100 "):
        check_batch_fits(model, 101, available=100 * per_image)


def test_available_memory_is_what_the_kernel_reports():
    with open("/proc/meminfo") as f:
        kib = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
    assert abs(available_memory() - kib * 1024) < 2**30  # within 1 GiB of the moment before

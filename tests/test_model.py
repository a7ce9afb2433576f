"""The SNASNet network: presets, shapes, both execution paths, state_dict layout, equivalences."""

from __future__ import annotations

import pytest
import torch
from helpers import lively_weights
from torch import nn

import snasnet
from snasnet.core.errors import ArchitectureError, ConfigError
from snasnet.network.arch import Architecture, sample
from snasnet.network.model import build_model, model_from_config
from snasnet.network.presets import Preset, get_preset, list_presets

GOLDEN = "0302 0030 3003 0000"


def small(arch, celltype=None, **kw):
    """A narrow cifar-shaped network: fast on a CPU, same structure."""
    return build_model("cifar100", arch, celltype=celltype, channels=8, classifier_width=64, **kw)


def random_cells(celltype: str, n: int, seed: int) -> list[Architecture]:
    g = torch.Generator().manual_seed(seed)
    return [sample(g, celltype) for _ in range(n)]


# --- presets ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list_presets())
def test_every_preset_builds_and_gives_class_scores(name):
    preset = get_preset(name)
    model = build_model(name, GOLDEN).eval()
    frames = (model.timesteps,) if preset.takes_frames else ()  # [B, T, C, H, W] for a frames preset
    x = torch.randn(2, *frames, preset.in_channels, preset.image_size, preset.image_size)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, preset.num_classes)
    assert torch.isfinite(out).all()


def test_original_preset_numbers():
    c10, c100, tin = get_preset("cifar10"), get_preset("cifar100"), get_preset("tinyimagenet")
    assert (c100.channels, c100.classifier_width, c100.final_neurons, c100.num_clusters) == (128, 1024, 500, 5)
    assert (c10.channels, c10.final_neurons, c10.num_clusters) == (256, 100, 10)  # channel ratio 2
    assert (tin.image_size, tin.stem_stride, tin.classifier_width, tin.final_neurons, tin.num_clusters) == (
        64,
        2,
        4096,
        1000,
        5,
    )
    model = build_model("tinyimagenet", GOLDEN)
    assert model.classifier[1].in_features == 256 * 8 * 8  # 64 // (4 * second_avgpooling)


def test_explicit_sizes_for_another_dataset():
    model = build_model(
        "cifar10",
        GOLDEN,
        in_channels=1,
        image_size=28,
        num_classes=10,
        channels=8,
        classifier_width=32,
        final_neurons=20,
    ).eval()
    with torch.no_grad():
        assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    custom = Preset(
        "mine", in_channels=2, image_size=16, num_classes=4, channels=4, classifier_width=8, final_neurons=8
    )
    assert build_model(custom, GOLDEN)(torch.randn(1, 2, 16, 16)).shape == (1, 4)


def test_bad_sizes_are_refused_with_a_reason():
    with pytest.raises(ConfigError, match="unknown preset 'mnist'"):
        build_model("mnist", GOLDEN)
    with pytest.raises(ConfigError, match="multiple of num_classes"):
        build_model("cifar100", GOLDEN, final_neurons=123)
    with pytest.raises(ConfigError, match="too small"):
        build_model("cifar100", GOLDEN, image_size=2)
    with pytest.raises(ConfigError, match="unknown preset field"):
        build_model("cifar100", GOLDEN, widht=3)
    with pytest.raises(ArchitectureError):
        build_model("cifar100", GOLDEN, celltype="forward")


def test_lif_settings_are_the_papers():
    model = build_model("digits", GOLDEN)
    lifs = model.lif_layers()
    assert len(lifs) == 2 * 5 + 3  # five spiking edges per cell, downconv, last_act, classifier
    for _, lif in lifs:
        assert lif.tau == pytest.approx(4 / 3) and lif.v_threshold == 1.0 and lif.v_reset == 0.0
        assert lif.detach_reset and type(lif.surrogate_function).__name__ == "ATan"


# --- state_dict layout --------------------------------------------------------------------------------
def test_state_dict_follows_the_originals_module_order():
    model = build_model("cifar100", "0102 0000 0003 2000", celltype="backward")
    keys = [k for k in model.state_dict() if k.startswith("cell1.") and k.endswith("1.weight")]
    # forward edge slots: 0:(0,1) skip, 3:(0,3) conv1x1, 5:(2,3) conv3x3; backward slot 2:(3,0) conv1x1
    assert keys == [
        "cell1.cell_architecture.3.1.weight",
        "cell1.cell_architecture.5.1.weight",
        "cell1.cell_architecture_back.2.1.weight",
    ]
    assert model.state_dict()["cell1.cell_architecture_back.2.1.weight"].shape == (128, 128, 1, 1)


# --- the two execution paths ----------------------------------------------------------------------------
@pytest.mark.parametrize("celltype", ["forward", "backward"])
def test_fast_path_equals_reference_in_eval_mode(celltype):
    x = torch.randn(4, 3, 32, 32)
    for i, arch in enumerate(
        random_cells(celltype, 8, seed=21)
        + [
            Architecture.parse(GOLDEN, celltype)
            if celltype == "backward"
            else Architecture.parse("0312 0022 0002 0000", "forward")
        ]
    ):
        model = lively_weights(small(arch), seed=i).eval()
        with torch.no_grad():
            ref = model(x, path="reference")
            fast = model(x, path="fast")
        assert ref.std() > 0.1, f"{arch}: outputs are constant, the comparison would be vacuous"
        assert torch.equal(ref, fast), f"{arch}: max difference {(ref - fast).abs().max():.3g}"


@pytest.mark.parametrize("celltype", ["forward", "backward"])
def test_fast_path_equals_reference_in_train_mode(celltype):
    """Same outputs, gradients and BatchNorm running statistics (per-timestep batch statistics)."""
    x = torch.randn(4, 3, 32, 32)
    for i, arch in enumerate(random_cells(celltype, 4, seed=5)):
        results = []
        for path in ("reference", "fast"):
            model = lively_weights(small(arch), seed=i).train()
            torch.manual_seed(0)  # the same dropout mask
            out = model(x, path=path)
            out.square().sum().backward()
            grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
            stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
            results.append((out.detach(), grads, stats))
        (ref, ref_g, ref_s), (fast, fast_g, fast_s) = results
        assert ref.std() > 0.1
        assert torch.equal(ref, fast), f"{arch}: outputs differ by {(ref - fast).abs().max():.3g}"
        assert ref_g.keys() == fast_g.keys()
        for name in ref_g:
            # weight gradients sum over T*B at once instead of step by step: rounding-level differences
            err = (fast_g[name] - ref_g[name]).abs().max() / ref_g[name].abs().max().clamp_min(1e-12)
            assert err < 1e-5, f"{arch}: gradient of {name} differs by {err:.2g} (relative to its largest entry)"
        for name in ref_s:
            torch.testing.assert_close(fast_s[name], ref_s[name], rtol=1e-5, atol=1e-6, msg=f"{arch} {name}")


def test_dropout_mask_is_shared_over_timesteps_and_redrawn_per_batch():
    model = small(GOLDEN).train()
    x = torch.randn(2, 3, 32, 32)
    model(x)
    mask = model.classifier[0].mask
    assert mask is not None and mask.shape == (2, model.classifier[1].in_features)
    model(x)
    assert not torch.equal(mask, model.classifier[0].mask)


def test_every_forward_starts_from_rest():
    model = lively_weights(small(GOLDEN), seed=3).eval()
    x = torch.randn(3, 3, 32, 32)
    with torch.no_grad():
        first = model(x)
        model(torch.randn(3, 3, 32, 32))
        assert torch.equal(model(x), first)


def test_paths_and_timesteps():
    model = small(GOLDEN, timesteps=2)
    assert model.timesteps == 2 and model.path == "fast"
    with pytest.raises(ConfigError, match="unknown execution path"):
        model.path = "slow"
    with pytest.raises(ConfigError, match="timesteps"):
        small(GOLDEN, timesteps=0)


def test_lif_outputs_are_spikes_and_hooks_see_both_step_modes():
    model = lively_weights(small(GOLDEN), seed=1).eval()
    seen: dict[str, list[tuple[str, tuple[int, ...]]]] = {}

    def hook(module, inputs, output):
        assert set(output.unique().tolist()) <= {0.0, 1.0}
        seen.setdefault(module.step_mode, []).append(tuple(output.shape))

    for _, lif in model.lif_layers():
        lif.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.randn(2, 3, 32, 32), path="fast")
    # backward cells step by step ([B, ...]); downconv, last_act and classifier over all T ([T, B, ...])
    assert {shape[0] for shape in seen["m"]} == {5}
    assert {shape[0] for shape in seen["s"]} == {2}


# --- equivalences behind the canonical form ---------------------------------------------------------
def _copy_edges(src: nn.Module, dst: nn.Module, perm: tuple[int, ...]) -> None:
    """Copy weights from model src to model dst, whose cell is src's with nodes relabelled by perm."""
    dst_sd = dst.state_dict()
    for key, value in src.state_dict().items():
        if ".cell_architecture" in key:
            cell, kind, index, rest = key.split(".", 3)
            slots = src.cell1._fwd if kind == "cell_architecture" else src.cell1._bwd
            r, c = next(slot for slot, i in slots.items() if i == int(index))
            pr, pc = perm[r], perm[c]
            new_kind = "cell_architecture" if pr < pc else "cell_architecture_back"
            new_slots = dst.cell1._fwd if pr < pc else dst.cell1._bwd
            key_out = f"{cell}.{new_kind}.{new_slots[(pr, pc)]}.{rest}"
        else:
            key_out = key
        dst_sd[key_out].copy_(value)


@pytest.mark.parametrize(
    ("text", "celltype"), [("0312 0004 0002 0000", "forward"), ("0302 0003 3001 0200", "backward")]
)
def test_swapped_inner_nodes_compute_the_same_function(text, celltype):
    a = Architecture.parse(text, celltype)
    m = a.matrix
    perm = (0, 2, 1, 3)
    b = Architecture(tuple(tuple(m[perm[r]][perm[c]] for c in range(4)) for r in range(4)), celltype)
    assert a != b and a.canonical() == b.canonical()
    ma, mb = lively_weights(small(a), seed=4).eval(), small(b).eval()
    _copy_edges(ma, mb, perm)
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        out_a, out_b = ma(x), mb(x)
    assert out_a.std() > 0.1
    torch.testing.assert_close(out_b, out_a, rtol=1e-4, atol=1e-4)


def test_a_dead_end_node_changes_nothing():
    a = Architecture.parse("0342 0000 0003 0000", "forward")  # node 1 feeds nothing
    ma, mp = lively_weights(small(a), seed=6).eval(), small(a.pruned()).eval()
    mp.load_state_dict({k: v for k, v in ma.state_dict().items() if k in mp.state_dict()})
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(ma(x), mp(x))


# --- configuration -------------------------------------------------------------------------------------
def test_config_rebuilds_the_same_network():
    model = lively_weights(build_model("digits", GOLDEN, celltype="backward", timesteps=3, tau=1.5), seed=2).eval()
    again = model_from_config(model.config())
    again.load_state_dict(model.state_dict())
    again.eval()
    x = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        assert torch.equal(model(x), again(x))
    assert again.timesteps == 3 and again.lif.tau == 1.5


def test_public_api():
    assert snasnet.build_model is build_model
    assert snasnet.Architecture is Architecture
    assert isinstance(snasnet.__version__, str)
    with pytest.raises(AttributeError):
        snasnet.no_such_thing  # noqa: B018

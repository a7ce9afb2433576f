"""Event frames in the network: a frames preset takes ``[B, T, C, H, W]`` and runs the stem at every timestep,
on both execution paths; it refuses static images (and a static network refuses frames); its input kind
survives the config and the checkpoint."""

from __future__ import annotations

import pytest
import torch
from helpers import lively_weights

from snasnet.core.errors import ConfigError
from snasnet.data.events import EVENT_DATASETS
from snasnet.network.checkpoint import load_checkpoint, save_checkpoint
from snasnet.network.model import build_model, model_from_config
from snasnet.network.presets import get_preset, list_presets

GOLDEN = "0302 0030 3003 0000"
FORWARD = "0312 0022 0002 0000"


def frames_model(arch=GOLDEN, celltype="backward", timesteps=4, seed=0, **kw):
    """digits-dvs' network, narrow, with weights that make every layer fire."""
    model = build_model("digits-dvs", arch, celltype=celltype, timesteps=timesteps, channels=8, **kw)
    return lively_weights(model, seed=seed)


def event_counts(batch=4, timesteps=4, seed=0):
    """Frames as event_data gives them: small non-negative counts, batch first."""
    g = torch.Generator().manual_seed(seed)
    return torch.poisson(torch.full((batch, timesteps, 2, 20, 20), 0.7), generator=g)


def test_frames_presets_match_their_event_datasets():
    """The preset's input size, channels and T are the event dataset's (which states their sources)."""
    frames = [name for name in list_presets() if get_preset(name).takes_frames]
    assert sorted(frames) == sorted(EVENT_DATASETS.names())
    for name in frames:
        p, d = get_preset(name), EVENT_DATASETS.get(name)
        assert (p.in_channels, p.image_size, p.timesteps) == (d.sensor_size[2], d.image_size, d.timesteps), name
    assert build_model("digits-dvs", GOLDEN).timesteps == 6  # the preset's T is the model's default
    assert build_model("digits", GOLDEN).timesteps == 5


@pytest.mark.parametrize(("arch", "celltype"), [(GOLDEN, "backward"), (FORWARD, "forward")])
def test_fast_path_equals_reference_on_frames_in_eval_mode(arch, celltype):
    model = frames_model(arch, celltype).eval()
    x = event_counts()
    with torch.no_grad():
        ref, fast = model(x, path="reference"), model(x, path="fast")
    assert ref.std() > 0.1, "outputs are constant: the comparison would be vacuous"
    assert torch.allclose(ref, fast, atol=1e-5), f"max difference {(ref - fast).abs().max():.3g}"


@pytest.mark.parametrize("norm", ["step", "running"])  # joint: the reference path refuses to train (test_norms)
@pytest.mark.parametrize(("arch", "celltype"), [(GOLDEN, "backward"), (FORWARD, "forward")])
def test_fast_path_equals_reference_on_frames_in_train_mode(arch, celltype, norm):
    """Same outputs, stem gradients and batch-norm statistics, over two batches (running normalises the second
    with the statistics the first pooled)."""
    x = event_counts()
    results = []
    for path in ("reference", "fast"):
        model = frames_model(arch, celltype, norm=norm).train()
        for i, batch in enumerate((event_counts(seed=1), x)):
            torch.manual_seed(i)  # the same dropout masks
            out = model(batch, path=path)
        out.square().sum().backward()
        stats = {k: v.clone() for k, v in model.state_dict().items() if "running" in k}
        results.append((out.detach(), model.stem[0].weight.grad.clone(), stats))
    (ref, ref_g, ref_s), (fast, fast_g, fast_s) = results
    assert ref.std() > 0.1
    assert torch.allclose(ref, fast, atol=1e-5), f"outputs differ by {(ref - fast).abs().max():.3g}"
    assert torch.allclose(ref_g, fast_g, rtol=1e-4, atol=1e-6 * ref_g.abs().max())
    for key in ref_s:
        assert torch.allclose(ref_s[key], fast_s[key], atol=1e-6), key


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_the_stem_sees_each_timesteps_frame(path):
    """T copies of one frame give exactly what a static network of the same weights gives for that image (the
    stem computed once); other frames at later steps change the scores, so each step's frame is used."""
    frames = frames_model(seed=3).eval()
    static = build_model("digits-dvs", GOLDEN, timesteps=4, channels=8, input="static").eval()
    static.load_state_dict(frames.state_dict())
    x = event_counts(seed=1)
    repeated = x[:, :1].expand_as(x).contiguous()
    with torch.no_grad():
        same = frames(repeated, path=path)
        assert torch.allclose(same, static(x[:, 0], path=path), atol=1e-5)
        assert same.std() > 0.1
        assert (frames(x, path=path) - same).abs().max() > 0.05


def test_a_frames_network_refuses_static_images_and_other_timesteps():
    model = frames_model(timesteps=4).eval()
    with pytest.raises(ConfigError, match=r"takes event frames \[B, T, C, H, W\], T=4; got a 4-D batch"):
        model(torch.zeros(2, 2, 20, 20))
    with pytest.raises(ConfigError, match="runs T=4 timesteps but the batch has 6 frames per sample"):
        model(event_counts(timesteps=6))
    static = build_model("digits", GOLDEN).eval()
    with pytest.raises(ConfigError, match=r"takes static images \[B, C, H, W\]; got a 5-D batch"):
        static(torch.zeros(2, 5, 1, 8, 8))


def test_unknown_input_kind_is_refused():
    with pytest.raises(ConfigError, match="input must be one of static, frames"):
        build_model("digits", GOLDEN, input="events")


def test_the_input_kind_survives_config_and_checkpoint(tmp_path):
    model = frames_model(timesteps=4, seed=5).eval()
    rebuilt = model_from_config(model.config())
    assert rebuilt.preset.takes_frames and rebuilt.timesteps == 4
    path = save_checkpoint(tmp_path / "last.pt", model, epoch=1)
    loaded = load_checkpoint(path).eval()
    x = event_counts()
    with torch.no_grad():
        assert torch.equal(loaded(x), model(x))


def test_configs_written_before_the_input_kind_rebuild_static_networks():
    config = build_model("digits", GOLDEN).config()
    for key in ("input", "timesteps"):
        del config["preset"][key]
    model = model_from_config(config)
    assert not model.preset.takes_frames
    assert model(torch.zeros(2, 1, 8, 8)).shape == (2, 10)

"""What runs on a GPU. Skipped on machines without CUDA (CI has none); run on a GPU machine with
``python -m pytest -q tests/test_cuda.py``."""

from __future__ import annotations

import math

import pytest
import torch
from golden_data import GOLDEN_ARCH
from helpers import lively_weights

from exporters.parity import compare_scores
from snasnet.data.datasets import get_dataset
from snasnet.network.arch import Architecture, sample
from snasnet.network.checkpoint import load_checkpoint
from snasnet.network.model import build_model
from snasnet.search.job import score_candidate, scoring_batches
from snasnet.search.score import score_network
from snasnet.train.evaluate import evaluate
from snasnet.train.job import fit, train_config

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")


@pytest.fixture
def exact_fp32():
    """fp32 convolutions and products without TF32 (cuDNN allows TF32 by default, which rounds inputs to
    10-bit mantissas and moves membrane potentials across the threshold)."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.parametrize("path", ["reference", "fast"])
def test_golden_outputs_on_the_gpu(path, exact_fp32, golden_state_dict, golden_images, golden_expected):
    model = build_model("cifar100", GOLDEN_ARCH)
    model.load_state_dict(golden_state_dict, strict=True)
    model.to(CUDA).eval()
    with torch.no_grad():
        logits = model(golden_images.to(CUDA), path=path)
    parity = compare_scores(logits, golden_expected["logits"])  # the expected logits' argmax is "pred"
    assert parity.logits_close >= 29 and parity.predictions_agree >= 29, f"{path}: {parity.summary()}"


@pytest.mark.parametrize("celltype", ["forward", "backward"])
def test_fast_path_matches_reference_on_the_gpu(celltype, exact_fp32):
    """On a GPU the two paths run different kernels (all T at once vs per step), so sums may round
    differently: the golden rule rather than bit equality."""
    rng = torch.Generator().manual_seed(5)
    x = torch.randn(64, 3, 32, 32, generator=rng).to(CUDA)
    for i in range(4):
        arch = sample(rng, celltype)
        model = build_model("cifar100", arch, channels=32, classifier_width=64)
        model = lively_weights(model, seed=i).to(CUDA).eval()
        with torch.no_grad():
            ref, fast = model(x, path="reference"), model(x, path="fast")
        assert ref.std() > 0.1, f"{arch}: outputs are constant, the comparison would be vacuous"
        parity = compare_scores(fast, ref)
        assert parity.logits_close >= 58 and parity.predictions_agree >= 63, f"{arch}: {parity.summary()}"


def test_search_scores_are_reproducible_on_the_gpu():
    bundle = get_dataset("digits")
    arch = Architecture.parse("0302 0030 3003 0000", "backward")
    batches = scoring_batches(bundle.search_set, 64, 2, seed=3, device=CUDA)
    first, again = (score_candidate(arch, batches, preset="digits", seed=3, device=CUDA) for _ in range(2))
    assert math.isfinite(first.score)
    assert first.score == again.score and first.firing_rates == again.firing_rates


def test_the_same_weights_score_alike_on_the_gpu_and_the_cpu(exact_fp32):
    """A search on the GPU draws its weights from the GPU's generator (so its scores are its own); given the
    same weights, the GPU's arithmetic gives the CPU's score up to spikes flipped by rounding at threshold."""
    bundle = get_dataset("digits")
    batches = scoring_batches(bundle.search_set, 64, 2, seed=3)
    torch.manual_seed(0)
    model = build_model("digits", "0302 0030 3003 0000")
    on_cpu = score_network(model, batches)
    on_gpu = score_network(model.to(CUDA), [b.to(CUDA) for b in batches])
    assert on_gpu.score == pytest.approx(on_cpu.score, rel=1e-4, abs=1e-3), (on_gpu.score, on_cpu.score)
    assert on_gpu.mean_firing_rate == pytest.approx(on_cpu.mean_firing_rate, rel=1e-3)


def test_training_on_the_gpu_uses_bf16_and_its_checkpoint_evaluates_on_a_cpu(tmp_path):
    config = train_config("digits", epochs=4, device="cuda", seed=3)
    result = fit(config, tmp_path / "run")
    last = result.history[-1]
    assert math.isfinite(last["train_loss"]) and last["val_acc"] > 0.3, last  # chance is 0.1
    assert (last["train_precision"], last["val_precision"]) == ("bf16", "fp32"), last  # reported accuracy: fp32
    model = load_checkpoint(tmp_path / "run" / "checkpoints" / "best.pt")  # onto the CPU
    assert next(model.parameters()).device.type == "cpu"
    on_cpu = evaluate(model, get_dataset("digits").test, batch_size=256, precision="fp32")
    # validated in fp32 on the GPU too; other convolution algorithms here: a few of the 360 images may change class
    assert abs(on_cpu.top1 - result.best_acc) <= 0.02, (on_cpu.top1, result.best_acc)

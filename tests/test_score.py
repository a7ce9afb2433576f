"""The training-free scores: kernels checked by hand, a network's score checked against a per-sample loop,
the fast path against the reference path, and the registry."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from helpers import lively_weights

from snasnet.core.errors import ConfigError
from snasnet.network.model import build_model
from snasnet.search.score import (
    KernelSum,
    first_release_hamming_kernel,
    get_score,
    hamming_kernel,
    list_scores,
    plain_hamming_kernel,
    register_score,
    score_network,
)

pytestmark = pytest.mark.usefixtures("one_thread")

# Three codes of N = 4 neurons: rates 3/4, 1/4 and 0; Hamming distances d01 = 2, d02 = 3, d12 = 1.
CODES = torch.tensor([[1, 1, 1, 0], [1, 0, 0, 0], [0, 0, 0, 0]], dtype=torch.bool)
# r_i (1 - r_j) + (1 - r_i) r_j: 3/4 * 3/4 + 1/4 * 1/4, 3/4 * 1 + 1/4 * 0, 1/4 * 1 + 3/4 * 0
EXPECTED_01, EXPECTED_02, EXPECTED_12 = 0.625, 0.75, 0.25


def symmetric(diagonal: float, k01: float, k02: float, k12: float) -> torch.Tensor:
    return torch.tensor([[diagonal, k01, k02], [k01, diagonal, k12], [k02, k12, diagonal]], dtype=torch.float64)


def test_hamming_kernel_equals_the_hand_computed_sparsity_aware_kernel():
    # K = N - 0.5 / (N E + 1e-3) * d, and d = 0 on the diagonal
    expected = symmetric(
        4.0,
        4 - 0.5 / (4 * EXPECTED_01 + 1e-3) * 2,
        4 - 0.5 / (4 * EXPECTED_02 + 1e-3) * 3,
        4 - 0.5 / (4 * EXPECTED_12 + 1e-3) * 1,
    )
    kernel = hamming_kernel(CODES)
    assert kernel.dtype == torch.float64
    torch.testing.assert_close(kernel, expected, rtol=0, atol=1e-12)
    assert get_score("sahd") is hamming_kernel


def test_first_release_kernel_has_no_factor_n_in_the_rescale():
    expected = symmetric(
        4.0,
        4 - 0.5 / (EXPECTED_01 + 1e-3) * 2,
        4 - 0.5 / (EXPECTED_02 + 1e-3) * 3,
        4 - 0.5 / (EXPECTED_12 + 1e-3) * 1,
    )
    torch.testing.assert_close(first_release_hamming_kernel(CODES), expected, rtol=0, atol=1e-12)
    assert get_score("sahd_v1") is first_release_hamming_kernel


def test_the_former_name_sahd_original_still_works_and_warns_once_with_the_new_name():
    # sahd_original was misnamed: the original's current code has the factor N (it is sahd); the kernel
    # without it is the original's first release
    with pytest.warns(FutureWarning, match="'sahd_original' is now called 'sahd_v1'") as caught:
        kernel = get_score("sahd_original")
    assert len(caught) == 1
    assert kernel is first_release_hamming_kernel
    assert list_scores() == ["sahd", "sahd_v1", "hamming"], "a former name is not a score of its own"


def test_plain_hamming_kernel_counts_equal_bits():
    torch.testing.assert_close(plain_hamming_kernel(CODES), symmetric(4.0, 2.0, 1.0, 3.0), rtol=0, atol=0)


def test_float_spike_codes_give_the_same_kernel_as_booleans():
    for name in list_scores():
        kernel = get_score(name)
        torch.testing.assert_close(kernel(CODES.float()), kernel(CODES), rtol=0, atol=0)


def _loop_score(outputs: list[torch.Tensor]) -> float:
    """The SAHD score written out sample pair by sample pair, in float64 Python arithmetic."""
    batch = outputs[0].shape[0]
    total = np.zeros((batch, batch))
    for out in outputs:
        codes = (out > 0).flatten(1).tolist()
        n = len(codes[0])
        rates = [sum(code) / n for code in codes]
        for i in range(batch):
            for j in range(batch):
                distance = sum(a != b for a, b in zip(codes[i], codes[j], strict=True))
                expected = rates[i] * (1 - rates[j]) + (1 - rates[i]) * rates[j]
                total[i, j] += n - 0.5 / (n * expected + 1e-3) * distance
    return float(np.linalg.slogdet(total / len(outputs))[1])


def tiny(arch: str, celltype: str, seed: int = 1) -> torch.nn.Module:
    model = build_model(
        "digits", arch, celltype=celltype, channels=4, classifier_width=16, final_neurons=10, timesteps=3
    )
    return lively_weights(model, seed)


@pytest.mark.parametrize(
    ("arch", "celltype"), [("0302 0030 3003 0000", "backward"), ("0323 0034 0003 0000", "forward")]
)
def test_network_score_equals_a_per_sample_loop_over_every_lif_output(arch, celltype):
    model = tiny(arch, celltype)
    images = torch.randn(6, 1, 8, 8, generator=torch.Generator().manual_seed(0))
    # every LIF output at every step, recorded on the reference path (one call per step)
    outputs = []
    handles = [m.register_forward_hook(lambda m, i, o: outputs.append(o.clone())) for _, m in model.lif_layers()]
    model.train()
    torch.manual_seed(5)  # the dropout mask
    with torch.no_grad():
        model(images, path="reference")
    for handle in handles:
        handle.remove()
    assert len(outputs) == len(model.lif_layers()) * 3
    assert 0.02 < float(torch.cat([o.flatten() for o in outputs]).mean()) < 0.6, "the network should fire"

    torch.manual_seed(5)
    result = score_network(model, [images], "sahd", path="fast")
    assert math.isclose(result.score, _loop_score(outputs), rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.parametrize(
    ("arch", "celltype"), [("0302 0030 3003 0000", "backward"), ("0323 0034 0003 0000", "forward")]
)
def test_fast_path_scores_equal_the_reference_path_with_one_kernel_per_lif_output_and_step(arch, celltype):
    # a freshly initialised network (the search's case), at the original's train-mode batch statistics
    torch.manual_seed(0)
    model = build_model("digits", arch, celltype=celltype, channels=8, classifier_width=32)
    images = torch.randn(32, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    results, counts = {}, {}
    for path in ("reference", "fast"):
        for name in ("sahd", "sahd_v1", "hamming"):
            torch.manual_seed(2)
            model.train()
            with torch.no_grad(), KernelSum(model, get_score(name)) as kernels:
                model(images, path=path)
                results[path, name] = kernels.logdet()
                counts[path] = kernels.count
                rates = kernels.firing_rates()
            assert all(0.0 <= rate <= 1.0 for rate in rates.values())
            assert sum(rate > 0 for rate in rates.values()) >= len(rates) - 1, rates
    assert counts["fast"] == counts["reference"] == 5 * len(model.lif_layers())
    for name in ("sahd", "sahd_v1", "hamming"):
        assert math.isfinite(results["fast", name])
        assert math.isclose(results["fast", name], results["reference", name], rel_tol=1e-10), name


def test_score_averages_the_batches_and_resets_state_between_them():
    torch.manual_seed(0)
    model = build_model("digits", "0302 0030 3003 0000", channels=8, classifier_width=32)
    g = torch.Generator().manual_seed(3)
    a, b = torch.randn(16, 1, 8, 8, generator=g), torch.randn(16, 1, 8, 8, generator=g)
    torch.manual_seed(4)
    both = score_network(model, [a, b])
    torch.manual_seed(4)
    first = score_network(model, [a])
    assert both.batch_scores[0] == first.score  # the second batch starts where the first did: from rest
    assert both.score == pytest.approx(sum(both.batch_scores) / 2, rel=1e-15)
    assert both.batch_scores[0] != both.batch_scores[1]


def test_a_silent_network_scores_minus_infinity():
    # no spike anywhere: every code is equal, the kernel has rank one
    model = build_model("digits", "0302 0030 3003 0000", channels=4, classifier_width=16, threshold=1e9)
    result = score_network(model, [torch.randn(8, 1, 8, 8)])
    assert result.score == -math.inf
    assert result.mean_firing_rate == 0.0


def test_the_registry_refuses_a_second_score_of_the_same_name_and_names_the_choices():
    with pytest.raises(ValueError, match="already registered"):
        register_score("sahd")(plain_hamming_kernel)
    assert {"sahd", "sahd_v1", "hamming"} <= set(list_scores())
    with pytest.raises(ConfigError, match="unknown score 'nwot': choose one of sahd, sahd_v1, hamming"):
        get_score("nwot")

"""The fast path's LIF kernels compute spikingjelly's LIF: the same spikes and membranes, and with autograd
the gradients of spikingjelly's ``surrogate.ATan`` (which stays the definition)."""

import pytest
import torch
from spikingjelly.activation_based import neuron, surrogate

from snasnet.network.neuron import LIFConfig, make_lif


def _spikingjelly_lif(step_mode: str) -> neuron.LIFNode:
    c = LIFConfig()
    return neuron.LIFNode(
        tau=c.tau,
        v_threshold=c.threshold,
        v_reset=c.v_reset,
        surrogate_function=surrogate.ATan(),
        detach_reset=True,
        step_mode=step_mode,
    )


def _run(lif, x_seq: torch.Tensor, step_mode: str) -> torch.Tensor:
    if step_mode == "m":
        return lif(x_seq)
    return torch.stack([lif(x) for x in x_seq])


@pytest.mark.parametrize("step_mode", ["s", "m"])
def test_training_kernel_gives_spikingjellys_spikes_and_atan_gradients(step_mode):
    torch.manual_seed(0)
    x = (torch.randn(6, 4, 3, 5, 5) * 1.5 + 0.8).requires_grad_(True)  # about a third of the steps fire
    weights = torch.randn(6, 4, 3, 5, 5)  # a loss that weights every spike differently
    results = []
    for lif in (_spikingjelly_lif(step_mode), make_lif(LIFConfig())):
        lif.step_mode = step_mode
        if hasattr(lif, "inference_kernel"):
            lif.inference_kernel = True  # what the model's fast path switches on
        spikes = _run(lif, x, step_mode)
        (spikes * weights).sum().backward()
        results.append((spikes.detach(), lif.v.detach(), x.grad.clone(), spikes.grad_fn))
        x.grad = None
    (sj_spikes, sj_v, sj_grad, _), (spikes, v, grad, grad_fn) = results
    assert "LIFStepATan" in type(grad_fn).__name__ or any(
        "LIFStepATan" in type(f).__name__ for f, _ in grad_fn.next_functions if f is not None
    ), "the training kernel did not run"
    assert 0.2 < sj_spikes.mean() < 0.6, "too few or too many spikes for a meaningful comparison"
    assert torch.equal(spikes, sj_spikes)
    assert torch.equal(v, sj_v)
    assert sj_grad.abs().max() > 0.1
    assert torch.equal(grad, sj_grad), f"gradients differ by {(grad - sj_grad).abs().max():.3g}"


def test_inference_kernel_gives_spikingjellys_spikes_in_both_modes():
    torch.manual_seed(1)
    x = torch.randn(6, 4, 3, 5, 5) * 1.5 + 0.8
    with torch.no_grad():
        expected = _run(_spikingjelly_lif("s"), x, "s")
        for mode in ("s", "m"):
            lif = make_lif(LIFConfig())
            lif.step_mode, lif.inference_kernel = mode, True
            assert torch.equal(_run(lif, x, mode), expected), mode


def test_other_surrogates_keep_spikingjellys_operator():
    lif = make_lif(LIFConfig(surrogate="sigmoid"))
    lif.inference_kernel = True
    x = torch.randn(2, 3, requires_grad=True)
    spikes = lif(x)
    assert "LIFStepATan" not in type(spikes.grad_fn).__name__

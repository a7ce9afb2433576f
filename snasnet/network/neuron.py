"""The LIF neuron every SNASNet layer uses: spikingjelly's ``LIFNode`` with the paper's settings, and its
surrogate gradients by name (the paper uses ATan)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from spikingjelly.activation_based import neuron, surrogate

from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry

SURROGATES: Registry[type[surrogate.SurrogateFunctionBase]] = Registry("surrogate")
SURROGATES.add("atan", surrogate.ATan)
SURROGATES.add("sigmoid", surrogate.Sigmoid)


@dataclass(frozen=True)
class LIFConfig:
    """LIF settings of the original: tau 4/3, threshold 1.0, hard reset to 0, ATan, reset detached."""

    tau: float = 4.0 / 3.0
    threshold: float = 1.0
    v_reset: float | None = 0.0
    detach_reset: bool = True
    surrogate: str = "atan"

    def __post_init__(self) -> None:
        if not float(self.tau) > 1.0:
            raise ConfigError(f"tau must be greater than 1 (got {self.tau})")
        SURROGATES.get(self.surrogate)  # an unknown name: the registry's one-line error
        # spikingjelly 2.0 asserts float tau and thresholds
        object.__setattr__(self, "tau", float(self.tau))
        object.__setattr__(self, "threshold", float(self.threshold))
        if self.v_reset is not None:
            object.__setattr__(self, "v_reset", float(self.v_reset))


# --- the LIF update, written once: the training kernel, the inference kernel and the ONNX plain model
# (exporters/plain_model.py) compute it with these two functions
def charge(x: torch.Tensor, v: torch.Tensor | None, tau: float, v_reset: float) -> torch.Tensor:
    """spikingjelly's charge with decay_input, in the same order: h = v + (x - (v - v_reset)) / tau; ``v``
    None is the rest state (v == v_reset), which needs fewer operations and rounds exactly like
    spikingjelly's first step. A new tensor: ``x`` and ``v`` are not changed."""
    if v is None:
        h = torch.div(x, tau)
        return h.add_(v_reset) if v_reset != 0.0 else h
    h = torch.sub(x, v if v_reset == 0.0 else v - v_reset)
    return h.div_(tau).add_(v)


def fire_and_reset(
    h: torch.Tensor, threshold: float, v_reset: float | None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Fire where ``h >= threshold`` (spikingjelly's Heaviside), then reset: hard to ``v_reset`` where it
    fired, or soft (``h - threshold * spike``) when ``v_reset`` is None. ``(fired, spike, new membrane)``;
    ``h`` is not changed."""
    fired = h >= threshold
    spike = fired.to(h.dtype)
    if v_reset is None:
        return fired, spike, h - spike * threshold
    return fired, spike, h.masked_fill(fired, v_reset)


class _LIFStepATan(torch.autograd.Function):
    """One LIF step for training: charge, fire (Heaviside), detached hard reset in one forward of a few
    passes, and a backward of one short chain with spikingjelly's ATan surrogate, both in the order of
    operations of spikingjelly's CPU operator (``spikingjelly/_ops/lif/cpu.py``), so the numbers are its
    numbers: sg = (alpha / 2) / (1 + z^2), z = (h - threshold) * (pi / 2 * alpha);
    dL/dh = dL/dspike * sg + dL/dv_new * (1 - spike); dL/dx = dL/dh / tau; dL/dv = dL/dh - dL/dx.
    spikingjelly's operator stacks every step's charge and runs about a dozen passes per step each way."""

    @staticmethod
    def forward(ctx, x, v, tau, threshold, v_reset, alpha):  # noqa: ANN001, ANN205 (autograd's signature)
        h = charge(x, v, tau, v_reset)
        fired, spike, v_new = fire_and_reset(h, threshold, v_reset)
        ctx.save_for_backward(h, fired)
        ctx.constants = (tau, threshold, alpha, v is not None)
        return spike, v_new

    @staticmethod
    def backward(ctx, grad_spike, grad_v):  # noqa: ANN001, ANN205
        h, fired = ctx.saved_tensors
        tau, threshold, alpha, has_v = ctx.constants
        z = (h - threshold).mul_(math.pi / 2 * alpha)
        grad_h = z.mul_(z).add_(1).reciprocal_().mul_(alpha / 2).mul_(grad_spike)
        grad_h.add_(grad_v.masked_fill(fired, 0.0))
        grad_x = grad_h / tau
        grad_prev = grad_h.sub_(grad_x) if has_v and ctx.needs_input_grad[1] else None
        return grad_x, grad_prev, None, None, None, None


class LIFNode(neuron.LIFNode):
    """spikingjelly's ``LIFNode`` with kernels that the model's fast path switches on.

    Why not only spikingjelly's operator: on a CPU, spikingjelly 2.0 computes each step in about a dozen
    tensor passes and stacks the charge of every step for a backward pass, even under ``no_grad``; that
    was 58% of a cifar100 eval pass on 2 cores (convolutions 33%). Without autograd, the inference kernel
    computes the same arithmetic (h = v + (x - (v - v_reset)) / tau; spike = h >= threshold; hard reset)
    in place in a few passes, spike for spike identical. With autograd, for the paper's settings (hard
    reset, detached, ATan), ``_LIFStepATan`` does the same forward and spikingjelly's surrogate gradient.
    For other settings spikingjelly's operator runs.
    """

    inference_kernel = False  # the fast path's kernels (both: without and with autograd)

    def _kernel_applies(self, x: torch.Tensor) -> bool:
        return self.inference_kernel and self.decay_input and self.v_reset is not None

    def _autograd(self, x: torch.Tensor) -> bool:
        return torch.is_grad_enabled() and (
            x.requires_grad or isinstance(self.v, torch.Tensor) and self.v.requires_grad
        )

    def _training_kernel_applies(self) -> bool:
        sg = self.surrogate_function
        return self.detach_reset and type(sg) is surrogate.ATan and sg.spiking

    def _rest_or_v(self, x: torch.Tensor) -> torch.Tensor | None:
        v = self.v
        return v if isinstance(v, torch.Tensor) and v.shape == x.shape else None

    def _charge_fire_reset(self, x: torch.Tensor, spike_out: torch.Tensor | None = None) -> torch.Tensor:
        # fire_and_reset's hard reset, in place: h is this step's own tensor
        h = charge(x, self._rest_or_v(x), self.tau, self.v_reset)
        fired = h >= self.v_threshold
        spike = fired.to(x.dtype) if spike_out is None else spike_out.copy_(fired)
        self.v = h.masked_fill_(fired, self.v_reset)
        return spike

    def _step(self, x: torch.Tensor) -> torch.Tensor:
        if not self._autograd(x):
            return self._charge_fire_reset(x)
        spike, self.v = _LIFStepATan.apply(
            x, self._rest_or_v(x), self.tau, self.v_threshold, self.v_reset, self.surrogate_function.alpha
        )
        return spike

    def _fast(self, x: torch.Tensor, args: tuple, kwargs: dict) -> bool:
        if args or kwargs or not self._kernel_applies(x):
            return False
        return not self._autograd(x) or self._training_kernel_applies()

    def single_step_forward(self, x: torch.Tensor, *args: torch.Tensor, **kwargs: object) -> torch.Tensor:
        if not self._fast(x, args, kwargs):
            return super().single_step_forward(x, *args, **kwargs)
        return self._step(x)

    def multi_step_forward(self, x_seq: torch.Tensor, *args: torch.Tensor, **kwargs: object) -> torch.Tensor:
        if not self._fast(x_seq, args, kwargs):
            return super().multi_step_forward(x_seq, *args, **kwargs)
        if self._autograd(x_seq):
            return torch.stack([self._step(x) for x in x_seq])
        spikes = torch.empty_like(x_seq)
        for t in range(x_seq.shape[0]):
            self._charge_fire_reset(x_seq[t], spikes[t])
        return spikes


def make_lif(config: LIFConfig) -> LIFNode:
    """A fresh LIF layer (single-step mode; the model switches the layers it runs over all T at once)."""
    return LIFNode(
        tau=config.tau,
        v_threshold=config.threshold,
        v_reset=config.v_reset,
        surrogate_function=SURROGATES.get(config.surrogate)(),
        detach_reset=config.detach_reset,
        step_mode="s",
    )


def is_lif(module: object) -> bool:
    return isinstance(module, neuron.LIFNode)

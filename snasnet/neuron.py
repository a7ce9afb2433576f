"""The LIF neuron every SNASNet layer uses: spikingjelly's ``LIFNode`` with the paper's settings."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from spikingjelly.activation_based import neuron

from snasnet.errors import ConfigError
from snasnet.surrogates import SURROGATES


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


class LIFNode(neuron.LIFNode):
    """spikingjelly's ``LIFNode`` with an inference kernel that the model's fast path switches on.

    Why not only spikingjelly's operator: on a CPU, spikingjelly 2.0 computes each step in about a dozen
    tensor passes and stacks the charge of every step for a backward pass, even under ``no_grad``; that
    was 58% of a cifar100 eval pass on 2 cores (convolutions 33%). Without autograd, ``inference_kernel``
    computes the same arithmetic (h = v + (x - (v - v_reset)) / tau; spike = h >= threshold; hard reset)
    in place in a few passes, spike for spike identical. With autograd, or for settings the kernel does
    not cover, spikingjelly's operator runs with its surrogate gradient.
    """

    inference_kernel = False

    def _kernel_applies(self, x: torch.Tensor) -> bool:
        return (
            self.inference_kernel
            and self.decay_input
            and self.v_reset is not None
            and not (torch.is_grad_enabled() and x.requires_grad)
        )

    def _charge_fire_reset(self, x: torch.Tensor, spike_out: torch.Tensor | None = None) -> torch.Tensor:
        v = self.v
        if isinstance(v, torch.Tensor) and v.shape == x.shape:
            h = torch.sub(x, v if self.v_reset == 0.0 else v - self.v_reset)
            h.div_(self.tau).add_(v)
        else:  # at rest: v == v_reset, so x - (v - v_reset) == x
            h = torch.div(x, self.tau)
            if self.v_reset != 0.0:
                h.add_(self.v_reset)
        fired = h >= self.v_threshold
        spike = fired.to(x.dtype) if spike_out is None else spike_out.copy_(fired)
        self.v = h.masked_fill_(fired, self.v_reset)
        return spike

    def single_step_forward(self, x: torch.Tensor, *args: torch.Tensor, **kwargs: object) -> torch.Tensor:
        if args or kwargs or not self._kernel_applies(x):
            return super().single_step_forward(x, *args, **kwargs)
        return self._charge_fire_reset(x)

    def multi_step_forward(self, x_seq: torch.Tensor, *args: torch.Tensor, **kwargs: object) -> torch.Tensor:
        if args or kwargs or not self._kernel_applies(x_seq):
            return super().multi_step_forward(x_seq, *args, **kwargs)
        spikes = torch.empty(x_seq.shape, dtype=x_seq.dtype, device=x_seq.device)
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

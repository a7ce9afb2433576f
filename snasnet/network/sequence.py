"""How the fast path applies a layer to a whole sequence ``[T, B, ...]`` at once."""

from __future__ import annotations

import torch
from spikingjelly.activation_based.base import MemoryModule
from torch import nn


def seq_map(fn: nn.Module, x_seq: torch.Tensor) -> torch.Tensor:
    """Apply a stateless per-sample layer to ``[T, B, ...]`` as one ``[T*B, ...]`` call."""
    out = fn(x_seq.flatten(0, 1))
    return out.view(x_seq.shape[:2] + out.shape[1:])


def seq_batch_norm(bn: nn.BatchNorm2d, x_seq: torch.Tensor) -> torch.Tensor:
    """Batch norm over a sequence. Training normalises each timestep with its own batch statistics and
    updates the running statistics once per step, as the original's per-step calls do; evaluation uses
    the running statistics, so all steps go through one call."""
    if bn.training:
        return torch.stack([bn(x) for x in x_seq])
    return seq_map(bn, x_seq)


def run_seq(module: nn.Module, x_seq: torch.Tensor) -> torch.Tensor:
    """Run a layer of the model over all T steps at once: LIF layers in multi-step mode, the batch norms of
    ``snasnet.network.norm_layers`` on the sequence as it is, the original's batch norms per step while training,
    everything else on the flattened ``[T*B, ...]`` batch."""
    if isinstance(module, nn.Sequential):
        for layer in module:
            x_seq = run_seq(layer, x_seq)
        return x_seq
    if getattr(module, "takes_sequence", False):
        return module(x_seq)
    if isinstance(module, nn.BatchNorm2d):
        return seq_batch_norm(module, x_seq)
    if isinstance(module, MemoryModule):
        # called through __call__ (not multi_step_forward) so that forward hooks see it; a hook tells a
        # [T, B, ...] output from a [B, ...] one by the module's step_mode.
        module.step_mode = "m"
        return module(x_seq)
    return seq_map(module, x_seq)

"""How the fast path applies a layer to a whole sequence ``[T, B, ...]`` at once, and the batch norms that
normalise a sequence as a whole (``--norm`` joint and running, ``snasnet.network.norms``), which torch has no ready
layer for.

Both batch norms are ``nn.BatchNorm2d`` subclasses with its parameters and buffers, so state_dict keys are the
original's, and in evaluation both are exactly ``nn.BatchNorm2d``: one per-channel affine from the running
statistics, which the exporters fold (``exporters/folding.py``). Each takes one step ``[B, C, H, W]`` (a layer run
step by step, or a static image computed once) or a whole sequence ``[T, B, C, H, W]`` (``run_seq``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from spikingjelly.activation_based import layer
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
    """Run a layer of the model over all T steps at once: LIF layers in multi-step mode, the batch norms below
    (``takes_sequence``) on the sequence as it is, the original's batch norms per step while training,
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


class SequenceBatchNorm2d(layer.BatchNorm2d):
    """spikingjelly's ``BatchNorm2d`` on one step ``[B, C, H, W]`` or a whole sequence ``[T, B, C, H, W]``, its
    step mode set by the input: the multi-step call normalises ``[T*B, ...]`` as one batch."""

    takes_sequence = True  # run_seq hands it [T, B, ...] as it is

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.step_mode = "m" if x.dim() == 5 else "s"
        return super().forward(x)


class JointBatchNorm2d(SequenceBatchNorm2d):
    """tdBN's statistics (Zheng et al. 2021): in training, a sequence is normalised with the batch statistics of
    all its T x B samples at once. spikingjelly's multi-step ``BatchNorm2d`` computes exactly that (``[T*B, ...]``
    as one batch); tdBN's own ``ThresholdDependentBatchNorm2d`` is the same with its weights set to alpha x V_th at
    initialisation (1 here, the BN default) but takes sequences only and is no ``nn.BatchNorm2d``, which the
    exporters and the reference path need. A 4-D input is a whole batch by itself (a static image, computed once)."""


class RunningBatchNorm2d(SequenceBatchNorm2d):
    """Running statistics in training too: training's transform is evaluation's (OSR's aim, Zhu et al. 2024).

    Every call normalises with the running mean and variance (no gradient through them) and records each step's
    batch statistics; ``commit()`` (the model calls it at the end of a training forward pass) pools what the
    steps recorded, over all T x B, into the running statistics with one momentum update. So the statistics are
    tdBN's joint ones even where a layer runs step by step (inside a backward cell, whose feedback makes step t
    wait for step t-1), and a layer computes the same whether it sees its steps one by one (the reference path)
    or at once (the fast path).

    The gradient is batch normalisation's through each step's own statistics, rescaled so that its value is the
    running one (batch renormalisation, Ioffe 2017, without clipping): the value ``(x - mean_R) / std_R`` equals
    ``(x - mean_B) / std_B * r + d`` with ``r = std_B / std_R`` and ``d = (mean_B - mean_R) / std_R`` held
    constant. Without it (running statistics as constants) nothing stops the inputs' scale and offset from
    drifting, as BN's paper (Ioffe & Szegedy 2015, section 2) shows.

    The first training batch has no running statistics yet: it is normalised with each step's own, and sets
    them; later batches average in (the cumulative mean while 1 / batches > momentum, then ``momentum``).
    spikingjelly has no such layer (its multi-step ``BatchNorm2d`` normalises with the batch's statistics).
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__(num_features, eps, momentum)
        # per call: each step's batch mean and biased variance [steps, C], and the values per channel in a step
        self._pending: list[tuple[torch.Tensor, torch.Tensor, int]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            return super().forward(x)
        steps = x if x.dim() == 5 else x.unsqueeze(0)  # [T, B, C, H, W]
        dims = (1, 3, 4)
        batch_var, batch_mean = torch.var_mean(steps.float(), dims, correction=0, keepdim=True)  # [T, 1, C, 1, 1]
        count = steps.shape[1] * steps.shape[3] * steps.shape[4]
        self._pending.append((batch_mean.flatten(1).detach(), batch_var.flatten(1).detach(), count))
        std_b = (batch_var + self.eps).sqrt()
        normalised_b = (steps - batch_mean) / std_b
        if int(self.num_batches_tracked) == 0:  # no running statistics yet: this batch's own, per step
            out = normalised_b * self._channels(self.weight) + self._channels(self.bias)
        else:
            mean_r, std_r = self._channels(self.running_mean), self._channels((self.running_var + self.eps).sqrt())
            renormalised = normalised_b * (std_b / std_r).detach() + ((batch_mean - mean_r) / std_r).detach()
            # the value: exactly evaluation's (same call, same rounding); the gradient: the renormalised form's.
            # Copies of the statistics: autograd keeps them, and commit() updates the buffers in place
            mean, var = self.running_mean.clone(), self.running_var.clone()
            value = F.batch_norm(steps.detach().flatten(0, 1), mean, var, self.weight, self.bias, False, 0.0, self.eps)
            value = value.view_as(steps)
            out = value + self._channels(self.weight) * (renormalised - renormalised.detach())
        return out if x.dim() == 5 else out[0]

    @staticmethod
    def _channels(v: torch.Tensor) -> torch.Tensor:
        return v.view(1, 1, -1, 1, 1)

    def clear(self) -> None:
        """Forget the statistics recorded since the last commit (a forward pass that did not finish)."""
        self._pending = []

    @torch.no_grad()
    def commit(self) -> None:
        """Fold the steps recorded since the last commit, pooled, into the running statistics."""
        if not self._pending:
            return
        means = torch.cat([m for m, _, _ in self._pending])  # [steps, C]
        variances = torch.cat([v for _, v, _ in self._pending])
        weights = torch.cat([torch.full((len(m), 1), float(n), device=m.device) for m, _, n in self._pending])
        self._pending = []
        total = float(weights.sum())
        mean = (means * weights).sum(0) / total
        var = ((variances + (means - mean).square()) * weights).sum(0) / total  # the law of total variance
        var = var * total / max(total - 1.0, 1.0)  # unbiased, as nn.BatchNorm2d keeps it
        self.num_batches_tracked += 1
        momentum = max(self.momentum, 1.0 / float(self.num_batches_tracked))
        self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
        self.running_var.lerp_(var.to(self.running_var.dtype), momentum)

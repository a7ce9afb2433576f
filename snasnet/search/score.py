"""Training-free scores of a network at initialisation: how well its spikes tell the samples apart.

Every LIF output at every timestep gives each sample a binary code (which neurons fired). A score is a
kernel over the codes of a batch, registered by name (NASLib style: one function per score, a decorator
that refuses duplicates). The network's score is ``log|det|`` of the kernel summed over every LIF output
and timestep and divided by their count, averaged over the scoring batches (DESIGN.md). Higher is better.

    kernel = get_score("sahd")                                  # codes [B, N] -> [B, B] float64
    result = score_network(model, [images_a, images_b], "sahd")  # result.score, result.firing_rates

The kernels are summed in float64 on the model's device: no host round trip per layer.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry

#: codes ``[B, N]`` (bool or 0/1) -> kernel ``[B, B]`` in float64
Kernel = Callable[[torch.Tensor], torch.Tensor]

SCORES: Registry[Kernel] = Registry("score")
#: ``@register_score("name")`` registers a kernel; a name can be registered once
register_score = SCORES.register
list_scores = SCORES.names

#: former names of scores: still accepted, with a FutureWarning, and recorded under the new name
RENAMED_SCORES = {"sahd_original": "sahd_v1"}


def score_name(name: str) -> str:
    """The current name of a score: a former name (``RENAMED_SCORES``) warns and gives the new one."""
    new = RENAMED_SCORES.get(name)
    if new is None:
        return name
    warnings.warn(
        f"score {name!r} is now called {new!r} (the original's first-release kernel): use {new}",
        FutureWarning,
        stacklevel=2,
    )
    return new


def get_score(name: str) -> Kernel:
    """The kernel registered as ``name`` (or under a former name's new one)."""
    return SCORES.get(score_name(name))


# --- the pieces every kernel here is made of ------------------------------------------------------
# float32 adds integers exactly below 2**24, and a matrix product of 0/1 codes only adds integers: the
# Gram matrix of codes of fewer neurons is exact in float32, which is much faster than float64.
_EXACT_FLOAT32 = 2**24


def code_dtype(neurons: int) -> torch.dtype:
    """The float type that holds codes of ``neurons`` neurons and adds their Gram matrix exactly."""
    return torch.float32 if neurons < _EXACT_FLOAT32 else torch.float64


def hamming_distances(codes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pairwise Hamming distances ``d = x (1-x)^T + (1-x) x^T`` of binary codes ``x [B, N]``, exactly, in
    float64, and each code's firing rate ``r = x.mean(1)``.

    Computed as ``d_ij = s_i + s_j - 2 x_i . x_j`` from one matrix product where the formula has two; the
    spike counts ``s_i`` are the Gram matrix's diagonal (``x_i . x_i``, as x is 0 or 1)."""
    neurons = codes.shape[1]
    x = codes.to(code_dtype(neurons))
    gram = (x @ x.T).to(torch.float64)
    ones = gram.diagonal()
    distances = ones[:, None] + ones[None, :] - 2.0 * gram
    return distances, ones / neurons


def expected_distances(rates: torch.Tensor) -> torch.Tensor:
    """``r (1-r)^T + (1-r) r^T = r_i + r_j - 2 r_i r_j``: the Hamming distance per neuron expected between two
    codes that fire independently at rates ``r_i`` and ``r_j``."""
    r = rates[:, None]
    return r + r.T - 2.0 * (r * r.T)


@register_score("sahd")
def hamming_kernel(codes: torch.Tensor) -> torch.Tensor:
    """The sparsity-aware Hamming kernel of the paper and of the original repository's current
    ``computing_K_eachtime`` (DESIGN.md): ``K = N - 0.5 / (N E + 1e-3) * d``, with ``d`` the Hamming
    distances and ``N E`` the distances expected from the codes' firing rates, so that sparse codes are not
    taken for similar ones only because they are sparse."""
    neurons = codes.shape[1]
    distances, rates = hamming_distances(codes)
    return neurons - 0.5 / (neurons * expected_distances(rates) + 1e-3) * distances


@register_score("sahd_v1")
def first_release_hamming_kernel(codes: torch.Tensor) -> torch.Tensor:
    """The kernel of the original repository's first release (commit 6534c37), formerly ``sahd_original``:
    ``K = N - 0.5 / (E + 1e-3) * d``. Without the factor N that its later code and the paper have, the
    distances are divided by a per-neuron expectation."""
    neurons = codes.shape[1]
    distances, rates = hamming_distances(codes)
    return neurons - 0.5 / (expected_distances(rates) + 1e-3) * distances


@register_score("hamming")
def plain_hamming_kernel(codes: torch.Tensor) -> torch.Tensor:
    """NASWOT's kernel, the paper's ablation: ``K = N - d`` (equal bits, ``x x^T + (1-x)(1-x)^T``)."""
    distances, _ = hamming_distances(codes)
    return codes.shape[1] - distances


# --- summing a kernel over a network's LIF outputs ------------------------------------------------
@dataclass
class _LayerCount:
    spikes: torch.Tensor | float = 0.0
    slots: int = 0  # neurons x images x timesteps seen


class KernelSum:
    """Sums ``kernel`` over every LIF output at every timestep of ``model`` (forward hooks on
    ``model.lif_layers()``), in float64 on the model's device, and counts each layer's spikes.

    A layer run step by step emits ``[B, ...]`` once per step; one run over all steps at once
    (``step_mode == "m"``) emits ``[T, B, ...]`` and is split per step, so each timestep counts once either
    way, as the original's per-call hook counts it."""

    def __init__(self, model: nn.Module, kernel: Kernel) -> None:
        self.model = model
        self.kernel = kernel
        self.layers = model.lif_layers()
        self.total: torch.Tensor | None = None
        self.count = 0
        self.layer_counts = {name: _LayerCount() for name, _ in self.layers}
        self._handles: list = []

    def __enter__(self) -> KernelSum:
        for name, module in self.layers:
            self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc: object) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def _hook(self, name: str) -> Callable:
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            out = output.detach()
            steps = out.unbind(0) if getattr(module, "step_mode", "s") == "m" else (out,)
            for step in steps:
                self._add(name, step.flatten(1))

        return hook

    def _add(self, name: str, output: torch.Tensor) -> None:
        # the original's codes, (out > 0), written straight into a float tensor: one pass, where
        # ``(out > 0).float()`` makes a bool tensor first and takes ten times as long on a CPU
        codes = torch.empty(output.shape, dtype=code_dtype(output.shape[1]), device=output.device)
        torch.gt(output, 0, out=codes)
        kernel = self.kernel(codes)
        self.total = kernel if self.total is None else self.total + kernel
        self.count += 1
        layer = self.layer_counts[name]
        # row sums are exact in the codes' type; their sum may not be
        layer.spikes = layer.spikes + codes.sum(1).sum(dtype=torch.float64)
        layer.slots += codes.numel()

    def reset_kernel(self) -> None:
        """Start a new batch (spike counts go on)."""
        self.total, self.count = None, 0

    def logdet(self) -> float:
        """``log|det|`` of the mean kernel (``-inf`` when it is singular)."""
        if self.total is None:
            raise ConfigError("the network ran no LIF layer: there are no spikes to score")
        return float(torch.linalg.slogdet(self.total / self.count).logabsdet)

    def firing_rates(self) -> dict[str, float]:
        return {name: float(c.spikes) / c.slots if c.slots else 0.0 for name, c in self.layer_counts.items()}

    def mean_firing_rate(self) -> float:
        """All spikes over all neuron-steps of all layers."""
        slots = sum(c.slots for c in self.layer_counts.values())
        return sum(float(c.spikes) for c in self.layer_counts.values()) / slots if slots else 0.0


@dataclass
class NetworkScore:
    """A network's score (the mean over batches), each batch's score, and its firing rates."""

    score: float
    batch_scores: list[float]
    firing_rates: dict[str, float] = field(default_factory=dict)  # per LIF layer
    mean_firing_rate: float = 0.0


def score_network(
    model: nn.Module, batches: Iterable[torch.Tensor], score: str | Kernel = "sahd", path: str | None = None
) -> NetworkScore:
    """Score a network as the original does: train mode (batch statistics per timestep, dropout active),
    no autograd, state reset before each batch (every forward of an SNASNet resets it), one ``log|det|``
    per batch, averaged. ``path`` chooses the model's execution path (default: the model's own)."""
    kernel = get_score(score) if isinstance(score, str) else score
    model.train()
    scores = []
    with torch.no_grad(), KernelSum(model, kernel) as kernels:
        for images in batches:
            kernels.reset_kernel()
            if path is None:
                model(images)
            else:
                model(images, path=path)
            scores.append(kernels.logdet())
    if not scores:
        raise ConfigError("no batch to score the network on")
    return NetworkScore(sum(scores) / len(scores), scores, kernels.firing_rates(), kernels.mean_firing_rate())

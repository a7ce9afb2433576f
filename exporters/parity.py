"""When an exported network computes "the same" as the PyTorch model: the golden tolerance rule.

A spiking network is a threshold system: a rounding difference of 1e-7 (a folded batch norm, another
convolution algorithm) flips a spike now and then, and the flip cascades through the timesteps and
feedback edges (golden README). So parity is judged per sample: the predictions agree on at least 99% of
the samples and every logit is within 1e-3 on at least 90% of them. A wrong wiring misses on almost all.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

LOGIT_TOLERANCE = 1e-3
MIN_PREDICTIONS_AGREE = 0.99
MIN_LOGITS_CLOSE = 0.90


@dataclass(frozen=True)
class Parity:
    """How an exported network's class scores compare with the model's on the same images."""

    samples: int
    predictions_agree: int  # samples whose top-1 class is the same
    logits_close: int  # samples whose every logit is within ``tolerance``
    max_abs_diff: float
    tolerance: float = LOGIT_TOLERANCE
    min_agree: float = MIN_PREDICTIONS_AGREE
    min_close: float = MIN_LOGITS_CLOSE

    @property
    def agree_fraction(self) -> float:
        return self.predictions_agree / self.samples if self.samples else 0.0

    @property
    def close_fraction(self) -> float:
        return self.logits_close / self.samples if self.samples else 0.0

    @property
    def passed(self) -> bool:
        return self.samples > 0 and self.agree_fraction >= self.min_agree and self.close_fraction >= self.min_close

    def summary(self) -> str:
        """One line with the figures, e.g. for a command's output."""
        verdict = "pass" if self.passed else "FAIL"
        return (
            f"predictions agree on {self.predictions_agree}/{self.samples} ({self.agree_fraction:.1%}, need "
            f"{self.min_agree:.0%}); all logits within {self.tolerance:g} on {self.logits_close}/{self.samples} "
            f"({self.close_fraction:.1%}, need {self.min_close:.0%}); max |diff| {self.max_abs_diff:.3g}: {verdict}"
        )

    def to_dict(self) -> dict:
        return {
            **asdict(self),
            "agree_fraction": self.agree_fraction,
            "close_fraction": self.close_fraction,
            "passed": self.passed,
        }


def compare_scores(
    scores: torch.Tensor | np.ndarray, reference: torch.Tensor | np.ndarray, tolerance: float = LOGIT_TOLERANCE
) -> Parity:
    """Compare ``scores`` [N, classes] with the model's ``reference`` [N, classes]."""
    ours, ref = (
        x.detach().cpu().double() if isinstance(x, torch.Tensor) else torch.from_numpy(np.asarray(x, np.float64))
        for x in (scores, reference)
    )
    if ours.shape != ref.shape:
        raise ValueError(f"scores of shape {tuple(ours.shape)} cannot be compared with {tuple(ref.shape)}")
    worst = (ours - ref).abs().amax(dim=1) if ours.numel() else ours.new_zeros(0)
    return Parity(
        samples=int(ours.shape[0]),
        predictions_agree=int((ours.argmax(1) == ref.argmax(1)).sum()) if ours.numel() else 0,
        logits_close=int((worst <= tolerance).sum()),
        max_abs_diff=float(worst.max()) if worst.numel() else 0.0,
        tolerance=tolerance,
    )


def torch_scores(model: nn.Module, images: torch.Tensor, chunk: int = 64) -> torch.Tensor:
    """The model's eval-mode class scores on ``images``, in chunks, on the model's device: the reference every
    exporter's parity is judged against."""
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    try:
        with torch.no_grad():
            return torch.cat([model(images[i : i + chunk].to(device)).cpu() for i in range(0, len(images), chunk)])
    finally:
        model.train(was_training)

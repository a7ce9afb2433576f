"""The golden recordings of the original implementation (``tests/data/original-snasnet``): which one holds on
this CPU, the images they were made from, and the rule that says whether outputs reproduce them.

Float32 rounding depends on the kernels oneDNN, ATen and MKL pick for the CPU's instruction set, so each
recording holds on the instruction set it was recorded on; the portable recording holds on every x86-64 CPU
run in its environment (the file's own ``env``: SSE4.1 oneDNN, ATen's default kernels, MKL's conditional
bitwise reproducibility, one thread). Needs only torch, numpy and exporters.parity's rule:
benchmarks/fidelity_vs_original.py reads it in the original's process too, where snasnet cannot be imported.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from exporters.parity import Parity, compare_scores

GOLDEN = Path(__file__).resolve().parent / "data" / "original-snasnet"
GOLDEN_ARCH = "0302 0030 3003 0000"
# the CIFAR-100 statistics the golden outputs were made with (golden README)
CIFAR100_MEAN = (0.5071, 0.4867, 0.4408)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)

#: ``torch.backends.cpu.get_cpu_capability()`` -> the recording made on that instruction set
NATIVE_RECORDINGS = {"AVX512": "cifar100_bw.expected.pt", "AVX2": "avx2/cifar100_bw.expected.pt"}
PORTABLE_RECORDING = "portable/cifar100_bw.expected.pt"

#: the golden rule (golden README): of the 32 samples, at least this many have every logit within 1e-3 of the
#: recording, and at least this many have its prediction
MIN_CLOSE = MIN_AGREE = 29
TOLERANCE = 1e-3

#: an exported graph of the golden weights (ONNX in onnxruntime, NIR in a simulator or importer) folds each batch
#: norm into its convolution and runs other kernels: on these near-tie weights that rounding flips more samples than
#: the recording's rule allows on some CPUs (measured on 32 samples: AVX-512 at least 29 within 1e-3; AVX2 27 to 28
#: within 1e-3 and 29 to 30 predictions), while a wrong network has none within 1e-3 and 7 to 11 predictions
EXPORT_MIN_CLOSE, EXPORT_MIN_AGREE = 25, 27


def export_holds(parity: Parity) -> bool:
    """The rule for an exported graph of the golden weights against the model (``EXPORT_MIN_CLOSE``)."""
    return parity.logits_close >= EXPORT_MIN_CLOSE and parity.predictions_agree >= EXPORT_MIN_AGREE


#: what the golden checks of this session found, one line each: the end of the test run prints them
FINDINGS: list[str] = []


def golden_images() -> torch.Tensor:
    """The 32 images as the original feeds them: ToTensor (contiguous CHW in [0, 1]) then Normalize."""
    images = np.load(GOLDEN / "images_uint8_nhwc.npy")
    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div(255)
    mean = torch.tensor(CIFAR100_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR100_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


def load_recording(name: str) -> dict:
    return torch.load(GOLDEN / name, weights_only=True)


def native_recording() -> tuple[str | None, str]:
    """The recording of this CPU's instruction set, or None, and one line that says which, or why none."""
    capability = torch.backends.cpu.get_cpu_capability()
    name = NATIVE_RECORDINGS.get(capability)
    if name is None:
        known = ", ".join(f"{k} ({v})" for k, v in NATIVE_RECORDINGS.items())
        return None, f"no golden recording for CPU capability {capability} (recorded: {known}); the portable check runs"
    return name, f"golden recording {name} for CPU capability {capability}"


def portable_environment() -> tuple[dict[str, str] | None, str]:
    """The variables the portable recording was made with (its own ``env`` key), or None where they do not
    apply, and one line that says which."""
    machine = platform.machine().lower()
    if machine not in ("x86_64", "amd64"):
        return None, f"the portable mode selects x86-64 kernels; this CPU is {machine}"
    env = load_recording(PORTABLE_RECORDING)["env"]
    return env, "portable mode: " + " ".join(f"{k}={v}" for k, v in sorted(env.items()))


@dataclass(frozen=True)
class GoldenMatch:
    """How outputs compare with a recording, sample by sample."""

    samples: int
    identical: int  # every logit bit-identical
    close: int  # every logit within TOLERANCE
    agree: int  # same prediction
    max_abs_diff: float

    @property
    def holds(self) -> bool:
        """The golden rule."""
        return self.close >= MIN_CLOSE and self.agree >= MIN_AGREE

    def summary(self) -> str:
        return (
            f"{self.identical}/{self.samples} bit-identical, {self.close}/{self.samples} within {TOLERANCE:g}, "
            f"predictions {self.agree}/{self.samples}, max |diff| {self.max_abs_diff:.3g}"
        )


def match(logits: torch.Tensor, recording: dict) -> GoldenMatch:
    """``logits`` [32, classes] against a recording (whose ``pred`` is its logits' argmax)."""
    expected = recording["logits"]
    parity = compare_scores(logits, expected, TOLERANCE)
    return GoldenMatch(
        samples=parity.samples,
        identical=int((logits == expected).all(dim=1).sum()),
        close=parity.logits_close,
        agree=parity.predictions_agree,
        max_abs_diff=parity.max_abs_diff,
    )

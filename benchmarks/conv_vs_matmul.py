"""How fast this CPU runs the network's convolutions, against a float32 matrix product of the same work.

    python benchmarks/conv_vs_matmul.py [--threads 2] [--batch 32] [--repeats 5]

For each convolution shape of the cifar100 preset's cells (3x3 and 1x1 at 128 channels, 32x32, and at 256
channels, 16x16), times torch's convolution forward and backward (input and weight gradients) and one
matrix product ``[B*H*W, C*k*k] @ [C*k*k, C]``, which is the same multiply-adds as the forward (im2col's
GEMM), and prints GMAC/s of each. Where the convolution runs as fast as the matrix product, no other
formulation of the same float32 arithmetic is much faster (bench_vs_original.py's ceilings rest on that).
Not part of the tests or CI.
"""

from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F
from torch.utils import benchmark

SHAPES = [(128, 32, 3), (128, 32, 1), (256, 16, 3), (256, 16, 1)]  # channels, side, kernel


def _seconds(fn, repeats: int) -> float:
    """Median seconds per call (torch's own benchmark timer, with the threads set for this run)."""
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn}, num_threads=torch.get_num_threads())
    return timer.timeit(repeats).median


def _rates(channels: int, side: int, k: int, b: int, repeats: int) -> tuple[float, float, float]:
    """GMAC/s of the convolution forward, its backward, and the same-size matrix product."""
    pad = k // 2
    x = (torch.rand(b, channels, side, side) < 0.1).float()  # spikes, as the cells' convolutions see
    w = torch.randn(channels, channels, k, k) * 0.05
    grad = torch.randn(b, channels, side, side)
    a, m = torch.randn(b * side * side, channels * k * k), torch.randn(channels * k * k, channels)
    macs = b * side * side * channels * channels * k * k / 1e9
    fwd = _seconds(lambda: F.conv2d(x, w, padding=pad), repeats)
    bwd = _seconds(
        lambda: torch.ops.aten.convolution_backward(
            grad, x, w, None, [1, 1], [pad, pad], [1, 1], False, [0, 0], 1, [True, True, False]
        ),
        repeats,
    )
    mm = _seconds(lambda: a @ m, repeats)
    return macs / fwd, 2 * macs / bwd, macs / mm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"{args.threads} threads, batch {args.batch}; GMAC/s (median of {args.repeats})")
    print(f"{'conv':22s} {'forward':>8s} {'backward':>9s} {'matmul':>8s}")
    for channels, side, k in SHAPES:
        fwd, bwd, mm = _rates(channels, side, k, args.batch, args.repeats)
        print(f"{f'{channels}ch {side}x{side} {k}x{k}':22s} {fwd:8.0f} {bwd:9.0f} {mm:8.0f}")


if __name__ == "__main__":
    main()

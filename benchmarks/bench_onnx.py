"""Latency per image of the exported ONNX graphs in onnxruntime beside the PyTorch model, side by side.

    python benchmarks/bench_onnx.py                                  # digits preset, batches 1 and 32
    python benchmarks/bench_onnx.py --preset cifar100 --batch 1 --batch 16 --threads 2

For each batch size: PyTorch eval (fast path, the default, and the reference path), the unrolled ONNX graph
and the step graph looped T times in onnxruntime (CPU), in ms per image (median of --repeats after a
warm-up), and each one's ratio to PyTorch's fast path. Dense work is the same everywhere (no sparsity is
exploited), so the ratios compare runtimes, not networks. Weights are freshly initialised (timing does not
depend on them); the check that the graphs compute the model is the export command's and the tests'.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from exporters.onnx import export_onnx, onnx_session, run_onnx
from snasnet.network.model import build_model


def median_ms_per_image(fn, batch: int, repeats: int) -> float:
    fn()  # warm-up (allocations, onnxruntime's first run)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) / batch * 1e3


def torch_run(model, x: torch.Tensor, path: str):
    def run() -> None:
        with torch.no_grad():
            model(x, path=path)

    return run


def onnx_run(session, x: torch.Tensor):
    xn = np.ascontiguousarray(x.numpy())
    return lambda: run_onnx(session, xn, chunk=len(xn))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="digits")
    parser.add_argument("--arch", default="0302 0030 3003 0000")
    parser.add_argument("--celltype", default="backward")
    parser.add_argument("--timesteps", type=int, default=5)
    parser.add_argument("--batch", type=int, action="append", help="batch size (repeatable; default 1 and 32)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for both runtimes (0: their default)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    batches = args.batch or [1, 32]
    if args.threads:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    model = build_model(args.preset, args.arch, celltype=args.celltype, timesteps=args.timesteps).eval()
    p = model.preset
    with tempfile.TemporaryDirectory() as tmp:
        unrolled = onnx_session(export_onnx(model, Path(tmp) / "unrolled.onnx").path, args.threads or None)
        step = onnx_session(export_onnx(model, Path(tmp) / "step.onnx", mode="step").path, args.threads or None)
        import onnxruntime

        print(
            f"CPU threads: torch {torch.get_num_threads()}, onnxruntime {args.threads or 'default'}; torch "
            f"{torch.__version__}, onnxruntime {onnxruntime.__version__}; preset {args.preset}, cell {args.arch} "
            f"({args.celltype}), T = {args.timesteps}"
        )
        print(f"{'batch':>5}  {'runtime':32s} {'ms/image':>9}  {'speed vs PyTorch fast':>22}")
        for batch in batches:
            x = torch.randn(batch, p.in_channels, p.image_size, p.image_size)
            rows = [
                ("PyTorch eval, fast path", torch_run(model, x, "fast")),
                ("PyTorch eval, reference path", torch_run(model, x, "reference")),
                ("onnxruntime, unrolled graph", onnx_run(unrolled, x)),
                (f"onnxruntime, step graph x{args.timesteps}", onnx_run(step, x)),
            ]
            rows = [(label, median_ms_per_image(run, batch, args.repeats)) for label, run in rows]
            base = rows[0][1]
            for label, ms in rows:
                print(f"{batch:5d}  {label:32s} {ms:9.3f}  {base / ms:21.2f}x")


if __name__ == "__main__":
    main()

"""Training throughput of `snasnet train` on CIFAR-shaped synthetic data: fp32 vs bf16 autocast, side by side.

    python benchmarks/bench_train.py                          # cifar100 preset, batch 64, CUDA if present
    python benchmarks/bench_train.py --device cpu --train-images 256 --threads 2

Each precision runs in a fresh process (so its peak memory is its own): the real training loop
(``snasnet.train.job.fit``: DataLoader, per-step seeding, events, checkpoints) for ``--epochs`` epochs of
``--train-images`` random 3x32x32 images; images/s is the last epoch's (the first warms up cuDNN / the
allocator), then the test split is evaluated alone for eval images/s. Peak memory: the CUDA allocator's
peak on a GPU, the process's peak resident set on a CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time


def measure(args: argparse.Namespace) -> dict:
    """One configuration, in this process."""
    import torch

    from snasnet.data.datasets import get_dataset
    from snasnet.train.evaluate import evaluate
    from snasnet.train.job import fit, train_config

    if args.threads:
        torch.set_num_threads(args.threads)
    data = {
        "in_channels": 3,
        "image_size": 32,
        "num_classes": 100 if args.preset == "cifar100" else 10,
        "train_size": args.train_images,
        "test_size": args.test_images,
        "preset": args.preset,
    }
    config = train_config(
        "synthetic",
        dataset_options=data,
        arch=args.arch,
        epochs=args.epochs,
        batch_size=args.batch,
        eval_batch_size=args.batch * 4,
        val_interval=args.epochs + 1,  # only at the end (the last epoch always validates)
        precision=args.precision,  # the final validation
        train_precision=args.precision,
        device=args.device,
        compile=args.compile or None,
        workers=0,
    )
    with tempfile.TemporaryDirectory() as tmp:
        result = fit(config, os.path.join(tmp, "run"))
    device = next(result.model.parameters()).device
    cuda = device.type == "cuda"
    train_peak = torch.cuda.max_memory_allocated() if cuda else peak_rss()
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    test = get_dataset("synthetic", **data).test
    start = time.perf_counter()
    evaluate(result.model, test, batch_size=args.batch * 4, precision=args.precision, channels_last=cuda)
    if cuda:
        torch.cuda.synchronize()
    eval_rate = len(test) / (time.perf_counter() - start)
    eval_peak = torch.cuda.max_memory_allocated() if cuda else peak_rss()
    return {
        "precision": args.precision,
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if cuda else ""),
        "train_images_per_s": result.history[-1]["images_per_s"],
        "eval_images_per_s": eval_rate,
        "train_peak_gib": train_peak / 2**30,
        "eval_peak_gib": eval_peak / 2**30,
    }


def peak_rss() -> int:
    """This process's peak resident set, bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cifar100", choices=["cifar10", "cifar100"])
    parser.add_argument("--arch", default="0302 0030 3003 0000")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--train-images", type=int, default=4096)
    parser.add_argument("--test-images", type=int, default=1024)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--compile", action="store_true")
    parser.add_argument("--precision", help=argparse.SUPPRESS)  # set for the per-precision worker process
    args = parser.parse_args()

    if args.precision:  # worker: measure one precision, print JSON
        print(json.dumps(measure(args)))
        return
    rows = []
    for precision in args.precisions:
        command = [sys.executable, __file__, *sys.argv[1:], "--precision", precision]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            print(f"{precision}: failed\n{done.stderr[-2000:]}", file=sys.stderr)
            continue
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    if not rows:
        sys.exit(1)
    print(f"device: {rows[0]['device']}; preset {args.preset}, batch {args.batch}, T=5, {args.arch}")
    memory = "GPU allocator peak" if rows[0]["device"].startswith("cuda") else "process peak RSS"
    print(f"memory: {memory}; ratios against {rows[0]['precision']}")
    header = ("precision", "train img/s", "x", "train GiB", "eval img/s", "x", "eval GiB")
    print(f"{header[0]:<10}" + "".join(f"{h:>12}" for h in header[1:]))
    base = rows[0]
    for r in rows:
        print(
            f"{r['precision']:<10}{r['train_images_per_s']:>12.1f}"
            f"{r['train_images_per_s'] / base['train_images_per_s']:>12.2f}{r['train_peak_gib']:>12.2f}"
            f"{r['eval_images_per_s']:>12.1f}{r['eval_images_per_s'] / base['eval_images_per_s']:>12.2f}"
            f"{r['eval_peak_gib']:>12.2f}"
        )


if __name__ == "__main__":
    main()

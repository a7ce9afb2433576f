"""Throughput of the SNASNet model: snasnet's reference path (the original's order) vs its fast path.

Both paths are snasnet's own: the ratio says what the fast path saves over doing the original's work in
snasnet (with spikingjelly 2.0), not how snasnet compares with the original code. For that, time the
original itself: ``benchmarks/bench_vs_original.py --original DIR``.

    python benchmarks/bench_model.py                 # cifar100 preset, batch 64, T = 5, all CPU threads
    python benchmarks/bench_model.py --threads 2 --profile

Prints images/s for eval and for one training step (forward, backward, SGD step), the fast/reference
ratios, the dense-equivalent GMAC/s each path achieves, and the machine's own rate for a plain 3x3
convolution of the cell's size (the ceiling for a dense network of this shape). CUDA when present.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from snasnet.measure.complexity import complexity
from snasnet.network.model import build_model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device: torch.device, repeats: int) -> float:
    """Median seconds of ``repeats`` calls after one warm-up call."""
    fn()
    sync(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def profile(fn, device: torch.device) -> None:
    """The top operators of one call of ``fn``; on a GPU also how busy the GPU was: a GPU busy for a small
    part of the call's wall time waits for the host to launch its many small kernels."""
    fn()
    sync(device)
    cuda = device.type == "cuda"
    activities = [torch.profiler.ProfilerActivity.CPU] + ([torch.profiler.ProfilerActivity.CUDA] if cuda else [])
    start = time.perf_counter()
    with torch.profiler.profile(activities=activities) as prof:
        fn()
        sync(device)
    wall = time.perf_counter() - start
    events = prof.key_averages()
    print(events.table(sort_by="self_device_time_total" if cuda else "self_cpu_time_total", row_limit=10))
    if cuda:
        kernels = [e for e in events if e.self_device_time_total > 0]
        busy = sum(e.self_device_time_total for e in kernels) / 1e6
        launches = sum(e.count for e in kernels)
        print(f"GPU busy {busy * 1e3:.1f} ms of {wall * 1e3:.1f} ms wall (profiled), {launches} GPU ops")


def in_bf16(fn, device: torch.device):
    """``fn`` under bf16 autocast."""

    def run() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16):
            fn()

    return run


def dense_conv_rate(
    channels: int, size: int, batch: int, device: torch.device, repeats: int, channels_last: bool
) -> float:
    """GMAC/s of one plain 3x3 convolution, channels -> channels at size x size, batch images."""
    conv = torch.nn.Conv2d(channels, channels, 3, padding=1, bias=False).to(device)
    x = torch.randn(batch, channels, size, size, device=device)
    if channels_last:
        conv, x = conv.to(memory_format=torch.channels_last), x.contiguous(memory_format=torch.channels_last)
    with torch.no_grad():
        seconds = timed(lambda: conv(x), device, repeats)
    return batch * channels * channels * 9 * size * size / seconds / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cifar100")
    parser.add_argument("--arch", default="0302 0030 3003 0000")
    parser.add_argument("--celltype", default="backward")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--timesteps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument("--channels-last", action="store_true", help="also time the fast path in channels-last")
    parser.add_argument(
        "--bf16", action="store_true", help="also time the fast path under bf16 autocast (channels-last on CUDA)"
    )
    parser.add_argument("--profile", action="store_true", help="print the top operators of each fast pass")
    args = parser.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(
        "cuda"
        if args.device == "auto" and torch.cuda.is_available()
        else ("cpu" if args.device == "auto" else args.device)
    )
    torch.manual_seed(0)
    model = build_model(args.preset, args.arch, celltype=args.celltype, timesteps=args.timesteps).to(device)
    cost = complexity(model)
    p = model.preset
    x = torch.randn(args.batch, p.in_channels, p.image_size, p.image_size, device=device)
    y = torch.randint(0, p.num_classes, (args.batch,), device=device)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)
    gmac_per_image = cost.macs_per_image / 1e9

    def eval_pass(path: str, inputs: torch.Tensor):
        def run() -> None:
            model.eval()
            with torch.no_grad():
                model(inputs, path=path)

        return run

    def train_step(path: str, inputs: torch.Tensor):
        def run() -> None:
            model.train()
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(inputs, path=path), y).backward()
            opt.step()

        return run

    threads = torch.get_num_threads() if device.type == "cpu" else "-"
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(
        f"device {name} (threads {threads}), torch {torch.__version__}; preset {args.preset}, "
        f"cell {args.arch} ({args.celltype}), batch {args.batch}, T = {args.timesteps}"
    )
    print(f"dense work: {gmac_per_image:.2f} GMAC per image ({cost.macs_per_timestep / 1e9:.3f} per timestep)")
    side = p.image_size // p.stem_stride
    conv_rate = dense_conv_rate(p.channels, side, args.batch, device, args.repeats, channels_last=False)
    conv_rate_cl = dense_conv_rate(p.channels, side, args.batch, device, args.repeats, channels_last=True)
    print(
        f"plain 3x3 conv {p.channels}->{p.channels} at {side}x{side}: {conv_rate:.1f} GMAC/s "
        f"(channels-last {conv_rate_cl:.1f})"
    )

    x_cl = x.contiguous(memory_format=torch.channels_last)
    variants = [("reference", x, False), ("fast", x, False)]  # path, inputs, bf16 autocast
    if args.channels_last:
        variants.append(("fast", x_cl, False))
    if args.bf16:
        variants.append(("fast", x_cl if device.type == "cuda" else x, True))
    for kind, make in (("eval", eval_pass), ("train step", train_step)):
        rates = []
        for path, inputs, bf16 in variants:
            cl = inputs.is_contiguous(memory_format=torch.channels_last) and not inputs.is_contiguous()
            model.to(memory_format=torch.channels_last if cl else torch.contiguous_format)
            run = in_bf16(make(path, inputs), device) if bf16 else make(path, inputs)
            seconds = timed(run, device, args.repeats)
            rate = args.batch / seconds
            rates.append(rate)
            label = path + (" channels-last" if cl else "") + (" bf16" if bf16 else "")
            extra = f", {rate * gmac_per_image:6.1f} GMAC/s dense-equivalent" if kind == "eval" else ""
            print(f"{kind:10s} {label:22s} {rate:8.2f} images/s{extra}")
        ratios = ", ".join(f"{r / rates[0]:.2f}x" for r in rates[1:])
        print(f"{kind:10s} fast / reference (both snasnet; vs the original: bench_vs_original.py): {ratios}")
        if args.profile:
            model.to(memory_format=torch.contiguous_format)
            profile(make("fast", x), device)


if __name__ == "__main__":
    main()

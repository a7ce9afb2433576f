"""snasnet against the original SNASNet code itself, side by side on this machine.

    python benchmarks/bench_vs_original.py --original DIR
    python benchmarks/bench_vs_original.py --original DIR --repeats 5 --search-batch 256
    python benchmarks/bench_vs_original.py --original DIR --snasnet /path/to/other/snasnet/checkout

``DIR`` is a checkout of github.com/Intelligent-Computing-Lab-Yale/Neural-Architecture-Search-for-Spiking-
Neural-Networks (``model_snn.py``, ``searchcells/``) with the spikingjelly release it was written for in
``DIR/sj14``::

    pip install --no-deps --target DIR/sj14 spikingjelly==0.0.0.0.14

Every measurement runs in a fresh process (the original's with ``DIR/sj14`` and ``DIR`` first on its
``sys.path``; snasnet's with ``--snasnet`` first, when given, e.g. to time an older checkout), the two sides
alternating, with the same thread count, cell, preset, timesteps and input shapes. Each process builds its
network, runs one untimed call, then times ``--calls`` calls and reports their median; the table shows the
median over ``--repeats`` processes of images/s and the ratio snasnet / original. Rows:

- eval: one forward pass in eval mode without autograd, as each side validates;
- train step: forward, cross-entropy, backward, SGD step (lr 0.1, momentum 0.9, weight decay 5e-4), as
  each side trains (the original then resets its neurons with ``reset_net``);
- search candidate: scoring one candidate the way each scores it, for the same fixed cell: the original's
  ``find_best_neuroncell`` inner loop (build the network, hook every LIF, 2 batches in train mode, each hook
  call making the kernel on the device and adding it to a float64 host matrix, ``slogdet``), snasnet's
  ``snasnet.search.score_candidate`` (build, 2 batches). Images/s counts the 2 batches.

``--profile`` adds, per row, one profiled call on each side: the share of its time spent in convolutions,
whether both sides do the same convolution work, and the ratio snasnet would reach if nothing but those
convolutions (or all the layers' operators: convolution, batch norm, pooling, matrix products) took time
on its side: the ceiling for any change that keeps the original's arithmetic.

The original is CUDA-only: its ``.cuda()`` calls are patched at run time to leave tensors on the CPU, as a
user comparing on a laptop would; nothing of its code is copied here. Random images stand in for the data
set (the time does not depend on the pixels). Not part of the tests or CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROWS = ("eval", "train", "search")
LABELS = {"eval": "eval", "train": "train step", "search": "search candidate"}


# --- the worker: one measurement in this process ------------------------------------------------------
def _timed(fn, calls: int) -> float:
    """Median seconds of ``calls`` calls after one untimed call (NaN for none)."""
    fn()
    if calls == 0:
        return float("nan")
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _inputs(torch, batch: int, channels: int, size: int, classes: int, seed: int):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, channels, size, size, generator=g), torch.randint(0, classes, (batch,), generator=g)


_PRESET_SHAPES = {"cifar10": (3, 32, 10), "cifar100": (3, 32, 100), "tinyimagenet": (3, 64, 200)}


def original_sahd_hook(torch, np, n: int, dtype=None) -> tuple[dict, object]:  # noqa: ANN001 (the original's modules)
    """The original's ``computing_K_eachtime`` as it runs in ``find_best_neuroncell``, for a batch of ``n``:
    each LIF output's kernel made in float32 (or ``dtype``) on the device and added to a float64 host matrix
    ``state["K"]``, its calls counted in ``state["calls"]``. Written here from its formula (nothing of its code
    is copied)."""
    dtype = dtype or torch.float32
    state = {"K": np.zeros((n, n)), "calls": 0}

    def hook(module, inp, out) -> None:  # noqa: ANN001
        out = (out[0] if isinstance(out, tuple) else out).view(out.size(0), -1)
        neurons = out.size(1)
        codes = (out > 0).to(dtype)
        rate = (codes.sum(1) / neurons).unsqueeze(1)
        expected = ((rate @ (1 - rate.t())) + ((1 - rate) @ rate.t())) * neurons
        scale = torch.div(0.5 * torch.ones((n, n), dtype=dtype).cuda(), expected + 1e-3)
        distance = codes @ (1 - codes.t()) + (1 - codes) @ codes.t()
        kernel = torch.ones((n, n), dtype=dtype).cuda() * neurons - scale * distance
        state["K"] = state["K"] + kernel.cpu().numpy()
        state["calls"] += 1

    return state, hook


def _original_worker(args: argparse.Namespace, captured: dict) -> float:
    original = Path(args.original).resolve()
    sys.path[:0] = [str(original / "sj14"), str(original)]
    import numpy as np
    import torch
    from torch import nn

    # CUDA-only code on a CPU: every .cuda() leaves the tensor or module where it is
    torch.Tensor.cuda = lambda self, *a, **k: self
    nn.Module.cuda = lambda self, *a, **k: self
    import model_snn
    from spikingjelly.clock_driven.functional import reset_net

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    con_mat = torch.tensor([[int(c) for c in row] for row in args.arch.split()])
    net_args = argparse.Namespace(
        dataset=args.preset,
        timestep=args.timesteps,
        second_avgpooling=2,
        celltype=args.celltype,
        threshold=1.0,
        tau=4.0 / 3.0,
    )
    channels, size, classes = _PRESET_SHAPES[args.preset]
    x, y = _inputs(torch, args.batch, channels, size, classes, seed=1)

    if args.task == "eval":
        model = model_snn.SNASNet(net_args, con_mat).cuda()
        model.eval()

        def run() -> None:
            with torch.no_grad():
                model(x.cuda())
                reset_net(model)

    elif args.task == "train":
        model = model_snn.SNASNet(net_args, con_mat).cuda()
        model.train()
        criterion = nn.CrossEntropyLoss().cuda()
        opt = torch.optim.SGD(model.parameters(), 0.1, 0.9, weight_decay=5e-4)

        def run() -> None:
            opt.zero_grad()
            loss = criterion(model(x.cuda()), y.cuda())
            loss.backward()
            opt.step()
            reset_net(model)

    else:
        batches = [_inputs(torch, args.batch, channels, size, classes, seed=s)[0] for s in (1, 2)]
        n = args.batch

        def run() -> None:
            # what find_best_neuroncell does for one candidate (its sampling left out: the cell is fixed)
            with torch.no_grad():
                net = model_snn.SNASNet(net_args, con_mat).cuda()
                state, hook = original_sahd_hook(torch, np, n)
                for module in net.modules():
                    if "LIFNode" in str(type(module)):
                        module.register_forward_hook(hook)
                for images in batches:
                    state["K"], state["calls"] = np.zeros((n, n)), 0
                    net(images.cuda())
                    np.linalg.slogdet(state["K"] / state["calls"])

    captured["run"] = run
    return _timed(run, args.calls)


def _snasnet_worker(args: argparse.Namespace, captured: dict) -> float:
    if args.snasnet:
        sys.path.insert(0, str(Path(args.snasnet).resolve()))
    import torch

    from snasnet.model import build_model
    from snasnet.search import score_candidate

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    channels, size, classes = _PRESET_SHAPES[args.preset]
    x, y = _inputs(torch, args.batch, channels, size, classes, seed=1)

    if args.task == "eval":
        model = build_model(args.preset, args.arch, celltype=args.celltype, timesteps=args.timesteps)
        model.eval()

        def run() -> None:
            with torch.no_grad():
                model(x)

    elif args.task == "train":
        model = build_model(args.preset, args.arch, celltype=args.celltype, timesteps=args.timesteps)
        model.train()
        opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=5e-4)

        def run() -> None:
            opt.zero_grad(set_to_none=True)
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

    else:
        from snasnet import Architecture  # the path both layouts offer (--snasnet may be an older checkout)

        arch = Architecture.parse(args.arch, args.celltype)
        batches = [_inputs(torch, args.batch, channels, size, classes, seed=s)[0] for s in (1, 2)]

        def run() -> None:
            score_candidate(arch, batches, preset=args.preset, timesteps=args.timesteps)

    captured["run"] = run
    return _timed(run, args.calls)


#: operators of the network's layers that neither side can leave out without changing the arithmetic
_LAYER_OPS = ("conv", "batch_norm", "avg_pool", "aten::mm", "aten::addmm")


def _convolution_profile(fn) -> dict:
    """The share of one call's operator time spent in convolutions (forward and backward), and the
    convolution work it did: per operator and shapes of one sample, the samples it ran through (a side
    that runs T steps as one call of T*B samples does the same work as T calls of B)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        fn()
    events = prof.key_averages(group_by_input_shape=True)
    total = sum(e.self_cpu_time_total for e in events)
    convs = [e for e in events if "conv" in e.key and e.self_cpu_time_total > 0]
    work: dict[str, int] = {}
    for e in convs:
        shapes = [s for s in e.input_shapes if s][:3]  # data (and gradient), then the weight
        if e.key == "aten::convolution" or not shapes:
            continue  # the dispatcher above the kernel: counted by the kernel's own entry
        samples = shapes[0][0]
        key = f"{e.key} {[s[1:] for s in shapes[:-1]]} weight {shapes[-1]}"
        work[key] = work.get(key, 0) + samples * e.count
    layers = [e for e in events if any(op in e.key for op in _LAYER_OPS)]
    return {
        "conv_share": sum(e.self_cpu_time_total for e in convs) / total,
        "layer_share": sum(e.self_cpu_time_total for e in layers) / total,
        "conv_work": work,
    }


def _worker(args: argparse.Namespace) -> None:
    captured = {}
    seconds = (_original_worker if args.side == "original" else _snasnet_worker)(args, captured)
    images = args.batch * (2 if args.task == "search" else 1)
    result = {"seconds": seconds, "images_per_s": images / seconds}
    if args.profile:
        result.update(_convolution_profile(captured["run"]))
    print(json.dumps(result))


# --- the driver -------------------------------------------------------------------------------------
def check_original(directory: str) -> str | None:
    """Why ``directory`` cannot be timed, or None."""
    root = Path(directory)
    if not (root / "model_snn.py").is_file() or not (root / "searchcells" / "search_cell_snn.py").is_file():
        return (
            f"{root} is not a checkout of the original SNASNet code (no model_snn.py and searchcells/): clone "
            "github.com/Intelligent-Computing-Lab-Yale/Neural-Architecture-Search-for-Spiking-Neural-Networks"
        )
    if not (root / "sj14" / "spikingjelly" / "clock_driven").is_dir():
        return (
            f"{root / 'sj14'} holds no spikingjelly 0.0.0.0.14 (the release the original was written for): "
            f"install it with  pip install --no-deps --target {root / 'sj14'} spikingjelly==0.0.0.0.14"
        )
    return None


def _measure(args: argparse.Namespace, side: str, task: str, batch: int, profile: bool = False) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--task", task, "--batch", str(batch)]
    if profile:  # one untimed call, then the profiled one
        cmd += ["--profile", "--calls", "0"]
    for option in ("original", "snasnet", "arch", "celltype", "preset", "timesteps", "threads", "calls"):
        value = getattr(args, option)
        if option == "calls" and profile:
            continue
        if value is not None:
            cmd += [f"--{option}", str(value)]
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    here = str(Path(__file__).resolve().parent.parent)
    if side == "original":  # the original's process must not find spikingjelly 2.0 or snasnet first
        env.pop("PYTHONPATH", None)
    else:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (args.snasnet, here) if p)
    done = subprocess.run(
        cmd, capture_output=True, text=True, env=env, cwd=args.original if side == "original" else None
    )
    if done.returncode != 0:
        sys.exit(f"the {side} {task} measurement failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def _print_profile(args: argparse.Namespace, task: str, batch: int) -> dict:
    """One profiled call per side. The original's convolution share s bounds what a faster rest can give:
    with the same convolutions at the same speed and nothing else, snasnet / original would be 1 / s."""
    prof = {side: _measure(args, side, task, batch, profile=True) for side in ("original", "snasnet")}
    same = prof["original"]["conv_work"] == prof["snasnet"]["conv_work"]
    share, layers = prof["original"]["conv_share"], prof["original"]["layer_share"]
    print(
        f"{'':24s} convolutions: {share:.0%} of the original's time, {prof['snasnet']['conv_share']:.0%} of "
        f"snasnet's; same convolution work (operator, shapes, samples): {'yes' if same else 'no'}; ceiling "
        f"with those convolutions: {1 / share:.2f}x; with all the original's layer operations (convolution, "
        f"batch norm, pooling, matrix products: {layers:.0%} of its time): {1 / layers:.2f}x"
    )
    return {side: {k: p[k] for k in ("conv_share", "layer_share", "conv_work")} for side, p in prof.items()}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--original", required=True, help="checkout of the original code, with sj14/ in it")
    parser.add_argument("--snasnet", default=None, help="time the snasnet tree in this directory instead")
    parser.add_argument("--preset", default="cifar100", choices=sorted(_PRESET_SHAPES))
    parser.add_argument("--arch", default="0302 0030 3003 0000")
    parser.add_argument("--celltype", default="backward", choices=("forward", "backward"))
    parser.add_argument("--timesteps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batches", default="32,64", help="batch sizes of the eval and train rows")
    parser.add_argument("--search-batch", type=int, default=64, help="images per scoring batch (original: 256)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"which rows ({', '.join(ROWS)})")
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per side and row")
    parser.add_argument("--calls", type=int, default=1, help="timed calls per process (after one untimed)")
    parser.add_argument("--json", default=None, help="also write every measurement to this file")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile one call per side and row: the convolutions' share of the time, whether both sides "
        "run the same convolutions, and the ratio snasnet would reach if only those were left",
    )
    # internal: one measurement
    parser.add_argument("--worker", choices=("original", "snasnet"), help=argparse.SUPPRESS)
    parser.add_argument("--task", choices=ROWS, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    return parser


def main() -> None:
    args = _parser().parse_args()
    if args.worker:
        args.side = args.worker
        _worker(args)
        return
    problem = check_original(args.original)
    if problem:
        sys.exit(problem)
    rows = [r.strip() for r in args.rows.split(",") if r.strip()]
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        sys.exit(f"unknown row(s) {', '.join(unknown)}: choose from {', '.join(ROWS)}")
    try:
        batches = [int(b) for b in args.batches.split(",")]
    except ValueError:
        sys.exit(f"--batches {args.batches!r}: give batch sizes separated by commas, e.g. 32,64")
    cases = [(row, b) for row in rows if row != "search" for b in batches]
    if "search" in rows:
        cases.append(("search", args.search_batch))

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load {load:.2f}; threads "
        f"{args.threads}; preset {args.preset}, cell {args.arch} ({args.celltype}), T = {args.timesteps}; "
        f"snasnet from {args.snasnet or 'this checkout'}; {args.repeats} fresh processes per side, "
        f"{args.calls} timed calls each"
    )
    results = []
    print(f"{'':24s} {'original img/s':>16s} {'snasnet img/s':>16s} {'ratio':>7s}   ratio per repeat")
    for task, batch in cases:
        per = {"original": [], "snasnet": []}
        for _ in range(args.repeats):  # alternating sides, each in a fresh process
            for side in ("original", "snasnet"):
                per[side].append(_measure(args, side, task, batch)["images_per_s"])
        orig, ours = statistics.median(per["original"]), statistics.median(per["snasnet"])
        each = ", ".join(f"{s / o:.2f}" for o, s in zip(per["original"], per["snasnet"], strict=True))
        print(f"{LABELS[task] + f' (batch {batch})':24s} {orig:16.2f} {ours:16.2f} {ours / orig:6.2f}x   {each}")
        results.append({"row": task, "batch": batch, **per, "ratio": ours / orig})
        if args.profile:
            results[-1]["profile"] = _print_profile(args, task, batch)
    if args.json:
        Path(args.json).write_text(json.dumps({"load": load, "threads": args.threads, "results": results}, indent=1))


if __name__ == "__main__":
    main()

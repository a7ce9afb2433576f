"""Candidates per second of the training-free search: snasnet's scoring vs the original's way, side by side.

    python benchmarks/bench_search.py                       # cifar100 preset (2 candidates) and digits (20)
    python benchmarks/bench_search.py --cifar-candidates 5 --digits-candidates 50 --threads 2
    python benchmarks/bench_search.py --search-candidates 200     # also the whole job, projected to 5000

Both ways score the same candidates (the search's random strategy), with the same weights and the same
batches, with the paper's SAHD kernel (DESIGN.md):
- original's way: the network built on the CPU and moved to the device, the reference path (every layer once
  per timestep), a hook per LIF call that makes the kernel with two matrix products on the device and adds
  it to a float64 numpy matrix on the host (``computing_K_eachtime``), numpy's slogdet. The original makes
  the kernel in float32, which moves the SAHD score by about 1e-4 relative at cifar100 sizes (its entries are
  about N, its information about 0.5): by default the benchmark makes it in float64, so that both ways give
  the same scores (``--original-float32`` for the original's arithmetic);
- snasnet's way (``snasnet.search.job.score_candidate``): built on the device, the fast path (layers without
  feedback over all T at once), one Gram matrix per LIF output and timestep, the kernel summed in float64
  on the device.
On a GPU snasnet draws the initial weights on the device (the original draws them on the CPU and copies them):
the original's way is timed with its own construction but scores snasnet's weights, so the scores compare.
Time is split into model construction, forward passes (without the kernel work) and kernel work. The cifar100
preset runs on random 32x32 images (the ``synthetic`` dataset): the time does not depend on the pixels.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from snasnet.core.device import resolve_device
from snasnet.data.datasets import get_dataset
from snasnet.network.model import build_model
from snasnet.search.job import SearchConfig, candidate_seed, run_search, score_candidate, scoring_batches
from snasnet.search.score import KernelSum, get_score
from snasnet.search.strategies import make_strategy


@dataclass
class Timing:
    build: float = 0.0
    forward: float = 0.0
    kernel: float = 0.0

    @property
    def total(self) -> float:
        return self.build + self.forward + self.kernel

    def add(self, other: Timing) -> None:
        self.build += other.build
        self.forward += other.forward
        self.kernel += other.kernel

    @classmethod
    def split(cls, build: float, passes: Stopwatch, hooks: Stopwatch, logdets: Stopwatch) -> Timing:
        """The kernel work in the hooks ran inside the forward passes: count it as kernel work only."""
        return cls(build, passes.seconds - hooks.seconds, hooks.seconds + logdets.seconds)


class Stopwatch:
    """Seconds spent inside ``with`` blocks; waits for the GPU at both ends so its work is counted."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.seconds = device, 0.0

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def __enter__(self) -> Stopwatch:
        self.sync()
        self._start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.sync()
        self.seconds += time.perf_counter() - self._start


@contextmanager
def seeded_build(arch, preset: str, seed: int, device: torch.device, on_device: bool, **options):
    """The candidate's network with the search's weights (same seed, same draws as ``score_candidate``) and
    the seconds its construction took; the random state is restored afterwards."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(candidate_seed(seed, arch))
        start = time.perf_counter()
        if on_device:
            with device:
                model = build_model(preset, arch, **options)
        else:
            model = build_model(preset, arch, **options).to(device)
        yield model, time.perf_counter() - start


def original_way(
    arch, batches, preset: str, seed: int, device: torch.device, precision: torch.dtype, **options
) -> tuple[float, Timing]:
    """``computing_K_eachtime``: the kernel from two products per LIF call, moved to the host, numpy sums.
    The original makes the kernel in float32; ``precision`` float64 makes the same scores as snasnet's."""
    passes, hooks, logdets = Stopwatch(device), Stopwatch(device), Stopwatch(device)
    with seeded_build(arch, preset, seed, device, False, **options) as (model, build):
        if device.type == "cuda":  # snasnet draws on the GPU's generator: score the same weights (untimed)
            with seeded_build(arch, preset, seed, device, True, **options) as (twin, _):
                model.load_state_dict(twin.state_dict())
        batch = batches[0].shape[0]
        state = {"K": np.zeros((batch, batch)), "count": 0}

        def hook(module, inputs, out):
            with hooks:
                out = out.view(out.size(0), -1)
                n = out.shape[1]
                x = (out > 0).float()
                full = torch.ones((batch, batch), device=x.device, dtype=precision) * n
                sparsity = (x.sum(1) / n).unsqueeze(1).to(precision)
                norm = (sparsity @ (1 - sparsity.t())) + ((1 - sparsity) @ sparsity.t())
                rescale = 0.5 / (n * norm + 1e-3)  # the original's current code (its first release had no n)
                k10, k01 = x @ (1 - x.t()), (1 - x) @ x.t()  # exact: integer counts in float32
                state["K"] = state["K"] + (full - rescale * (k01 + k10).to(precision)).cpu().numpy()
                state["count"] += 1

        handles = [m.register_forward_hook(hook) for _, m in model.lif_layers()]
        model.train()
        scores = []
        with torch.no_grad():
            for images in batches:
                state["K"], state["count"] = np.zeros((batch, batch)), 0
                with passes:
                    model(images, path="reference")
                with logdets:
                    scores.append(float(np.linalg.slogdet(state["K"] / state["count"])[1]))
        for handle in handles:
            handle.remove()
    return sum(scores) / len(scores), Timing.split(build, passes, hooks, logdets)


class TimedKernelSum(KernelSum):
    """KernelSum that also counts the seconds of its work: in the hooks, and the slogdet."""

    def __init__(self, model, kernel, hooks: Stopwatch, logdets: Stopwatch) -> None:
        super().__init__(model, kernel)
        self.hooks, self.logdets = hooks, logdets

    def _add(self, name, codes) -> None:
        with self.hooks:
            super()._add(name, codes)

    def logdet(self) -> float:
        with self.logdets:
            return super().logdet()


def snasnet_way(arch, batches, preset: str, seed: int, device: torch.device, **options) -> tuple[float, Timing]:
    """``score_candidate``'s steps (``score_network``'s loop), with the kernel work timed apart."""
    passes, hooks, logdets = Stopwatch(device), Stopwatch(device), Stopwatch(device)
    with seeded_build(arch, preset, seed, device, True, **options) as (model, build):
        model.train()
        scores = []
        with torch.no_grad(), TimedKernelSum(model, get_score("sahd"), hooks, logdets) as kernels:
            for images in batches:
                kernels.reset_kernel()
                with passes:
                    model(images)
                scores.append(kernels.logdet())
    return sum(scores) / len(scores), Timing.split(build, passes, hooks, logdets)


def workload(name: str, dataset: str, candidates: int, args, device: torch.device, **dataset_options) -> None:
    bundle = get_dataset(dataset, **dataset_options)
    batches = scoring_batches(bundle.search_set, args.batch, args.repeat, args.seed, device)
    archs = make_strategy("random", args.celltype, args.seed, candidates).propose(candidates)
    options = {"timesteps": args.timesteps}
    totals = {"original": Timing(), "snasnet": Timing()}
    precision = torch.float32 if args.original_float32 else torch.float64
    differences = []
    for i, arch in enumerate(archs):
        theirs, t_theirs = original_way(arch, batches, bundle.preset, args.seed, device, precision, **options)
        ours, t_ours = snasnet_way(arch, batches, bundle.preset, args.seed, device, **options)
        totals["original"].add(t_theirs)
        totals["snasnet"].add(t_ours)
        differences.append(abs(ours - theirs))
        if i == 0:  # the benchmark's own loop is the library's: same score as score_candidate
            library = score_candidate(arch, batches, preset=bundle.preset, seed=args.seed, device=device, **options)
            assert library.score == ours, (library.score, ours)
        print(f"  {name} candidate {i}: {arch}  score {ours:.6f} (original's way {theirs:.6f})", flush=True)

    n = len(archs)
    print(f"\n{name}: batch {args.batch} x {args.repeat}, T={args.timesteps}, {n} candidates, {device}")
    print(f"  {'way':<52}{'build s':>9}{'forward s':>11}{'kernel s':>10}{'total s':>9}{'cand/s':>9}")
    rows = (
        ("original's (reference path, K to the host per hook)", totals["original"]),
        ("snasnet (fast path, K in float64 on the device)", totals["snasnet"]),
    )
    for label, t in rows:
        print(
            f"  {label:<52}{t.build / n:>9.3f}{t.forward / n:>11.3f}{t.kernel / n:>10.3f}{t.total / n:>9.3f}"
            f"{n / t.total:>9.3f}"
        )
    ratio = totals["original"].total / totals["snasnet"].total
    forward = totals["original"].forward / max(totals["snasnet"].forward, 1e-9)
    kernel = totals["original"].kernel / max(totals["snasnet"].kernel, 1e-9)
    print(f"  speed-up x{ratio:.2f} (forward x{forward:.2f}, kernel x{kernel:.2f}); per candidate seconds above")
    print(f"  scores: largest |snasnet - original's way| = {max(differences):.3g}\n", flush=True)


def whole_search(candidates: int, args, device: torch.device) -> None:
    """The real job (``run_search``: run directory, events, deduplication) on the cifar100 preset: candidates/s
    once warm, and the time 5000 candidates (the original's default) would take at that rate."""
    with tempfile.TemporaryDirectory() as tmp:
        config = SearchConfig(
            dataset="synthetic",
            dataset_options={"num_classes": 100, "preset": "cifar100", "train_size": max(args.batch, 16)},
            num_search=candidates,
            batch_size=args.batch,
            repeat=args.repeat,
            timesteps=args.timesteps,
            celltype=args.celltype,
            seed=args.seed,
            device=str(device),
        )
        start = time.perf_counter()
        result = run_search(config, os.path.join(tmp, "run"))
        seconds = time.perf_counter() - start
    warm = result.candidates[1:] or result.candidates
    per = sum(c.seconds for c in warm) / len(warm)
    print(
        f"whole search (run_search), cifar100 preset, {candidates} candidates on {device}: {seconds:.1f} s, "
        f"{candidates / seconds:.2f} candidates/s; warm {per:.3f} s per candidate, "
        f"5000 candidates in {5000 * per / 60:.1f} min"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cifar-candidates", type=int, default=2, help="cifar100 candidates (0: skip)")
    parser.add_argument("--digits-candidates", type=int, default=20, help="digits candidates (0: skip)")
    parser.add_argument(
        "--search-candidates", type=int, default=0, help="also time the whole search job on cifar100 (0: skip)"
    )
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--timesteps", type=int, default=5)
    parser.add_argument("--celltype", default="backward")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--original-float32",
        action="store_true",
        help="the original's way makes its kernel in float32 as the original does (scores then differ slightly)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, device {device}")
    if args.digits_candidates:
        workload("digits", "digits", args.digits_candidates, args, device)
    if args.cifar_candidates:
        size = max(args.batch, 16)
        workload(
            "cifar100",
            "synthetic",
            args.cifar_candidates,
            args,
            device,
            num_classes=100,
            preset="cifar100",
            train_size=size,
            test_size=16,
        )
    if args.search_candidates:
        whole_search(args.search_candidates, args, device)


if __name__ == "__main__":
    main()

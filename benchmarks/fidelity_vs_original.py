"""snasnet computes the original SNASNet's function: both run on this machine, same weights, same images.

    python benchmarks/fidelity_vs_original.py --original DIR
    python benchmarks/fidelity_vs_original.py --original DIR --portable     # both sides in the portable mode

``DIR`` is a checkout of the original code with spikingjelly 0.0.0.0.14 in ``DIR/sj14`` (as for
``bench_vs_original.py``). Each side runs in its own fresh process with the same thread count. Per case (the
golden CIFAR-100 backward cell, the paper's CIFAR-10 backward cell with ``second_avgpooling`` 4, a CIFAR-10
forward cell using every operation), with the golden weights recipe (``tests/golden_weights.py``) on that
case's state_dict layout and the 32 golden images:

- eval: the logits of both of snasnet's paths against the original's, bit for bit or the largest difference,
  and the predictions that agree; for the golden case also against this machine's recording;
- a training step: train mode, the same dropout mask (the same seed before the forward pass), cross-entropy on
  fixed labels, backward: the loss, and per parameter the largest gradient difference relative to the
  original's largest gradient;
- SAHD scores of a few sampled cells (train mode, as the search scores): the original's kernel code (its hook,
  float32 kernels summed into a float64 host matrix, ``slogdet``) on its network, ``snasnet.score`` on snasnet's
  network, both on the same weights and two batches of 16 golden images, the state reset before each batch (the
  original's search does not reset it between its two batches: a defect DESIGN.md fixes).

What a user on any machine runs to see that "the original's network, to the bit" holds there. The same
spikes give the same scores up to the float32 rounding of the original's kernels, so those are shown as a
relative difference. Not part of the tests or CI.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
TESTS = HERE.parent / "tests"
sys.path.insert(0, str(HERE))
from bench_vs_original import check_original, original_sahd_hook  # noqa: E402 (after the path is set)

#: name -> (preset, cell, cell type, second_avgpooling)
CASES = {
    "cifar100_bw": ("cifar100", "0302 0030 3003 0000", "backward", 2),
    "cifar10_bw": ("cifar10", "0303 0030 2002 0200", "backward", 4),
    "cifar10_fw": ("cifar10", "0312 0043 0002 0000", "forward", 2),
}
TIMESTEPS = 5
LABEL_SEED, DROPOUT_SEED = 3, 11


# --- the workers: one side's outputs for every case --------------------------------------------------
def _labels(torch, classes: int):
    return torch.randint(0, classes, (32,), generator=torch.Generator().manual_seed(LABEL_SEED))


def _train_step(torch, model, images, classes: int, **forward) -> dict:
    """Loss and gradients of one step from the same weights and dropout mask (the model's parameter names)."""
    model.train()
    model.zero_grad(set_to_none=True)
    torch.manual_seed(DROPOUT_SEED)
    loss = torch.nn.functional.cross_entropy(model(images, **forward), _labels(torch, classes))
    loss.backward()
    grads = {name: p.grad.detach().clone() for name, p in model.named_parameters() if p.grad is not None}
    return {"loss": loss.detach(), "grads": grads}


def _original_side(args: argparse.Namespace) -> dict:
    original = Path(args.original).resolve()
    sys.path[:0] = [str(original / "sj14"), str(original), str(TESTS)]
    import numpy as np
    import torch
    from torch import nn

    torch.Tensor.cuda = lambda self, *a, **k: self  # the original is CUDA-only: leave everything on the CPU
    nn.Module.cuda = lambda self, *a, **k: self
    import golden_weights
    import model_snn
    from golden_data import golden_images
    from spikingjelly.clock_driven.functional import reset_net

    torch.set_num_threads(args.threads)
    images = golden_images()

    def network(preset: str, arch: str, celltype: str, pooling: int):
        net_args = argparse.Namespace(
            dataset=preset, timestep=TIMESTEPS, second_avgpooling=pooling, celltype=celltype, threshold=1.0,
            tau=4.0 / 3.0,
        )  # fmt: skip
        model = model_snn.SNASNet(net_args, torch.tensor([[int(c) for c in row] for row in arch.split()]))
        model.load_state_dict(golden_weights.make_state_dict(golden_weights.layout_of(model.state_dict())))
        return model

    def run(model, x):
        reset_net(model)  # the original's training loop resets after each batch; from rest here either way
        return model(x)

    out: dict = {"cases": {}, "scores": {}}
    for name, (preset, arch, celltype, pooling) in CASES.items():
        model = network(preset, arch, celltype, pooling).eval()
        with torch.no_grad():
            logits = run(model, images)
        classes = logits.shape[1]
        model.train()
        model.zero_grad(set_to_none=True)
        torch.manual_seed(DROPOUT_SEED)
        loss = nn.functional.cross_entropy(run(model, images), _labels(torch, classes))
        loss.backward()
        grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.grad is not None}
        out["cases"][name] = {
            "layout": golden_weights.layout_of(model.state_dict()),
            "eval": {"original": logits},
            "train": {"original": {"loss": loss.detach(), "grads": grads}},
        }
    for arch, celltype in args.cells:
        model = network("cifar100", arch, celltype, 2).train()
        kernels = {dtype: original_sahd_hook(torch, np, 16, dtype) for dtype in (torch.float32, torch.float64)}
        for module in model.modules():
            if "LIFNode" in str(type(module)):
                for _, hook in kernels.values():
                    module.register_forward_hook(hook)
        scores = {dtype: [] for dtype in kernels}
        with torch.no_grad():
            for i in range(2):
                for state, _ in kernels.values():
                    state["K"], state["calls"] = np.zeros((16, 16)), 0
                torch.manual_seed(DROPOUT_SEED + i)
                run(model, images[16 * i : 16 * (i + 1)])
                for dtype, (state, _) in kernels.items():
                    scores[dtype].append(float(np.linalg.slogdet(state["K"] / state["calls"])[1]))
        out["scores"][f"{arch} {celltype}"] = [sum(s) / 2 for s in scores.values()]
    return out


def _snasnet_side(args: argparse.Namespace) -> dict:
    sys.path.insert(0, str(TESTS))
    import golden_weights
    import torch
    from golden_data import golden_images

    from snasnet.network.model import build_model
    from snasnet.search.score import score_network

    torch.set_num_threads(args.threads)
    images = golden_images()

    def network(preset: str, arch: str, celltype: str, pooling: int):
        model = build_model(preset, arch, celltype=celltype, timesteps=TIMESTEPS, second_avgpooling=pooling)
        model.load_state_dict(golden_weights.make_state_dict(golden_weights.layout_of(model.state_dict())))
        return model

    out: dict = {"cases": {}, "scores": {}}
    for name, (preset, arch, celltype, pooling) in CASES.items():
        model = network(preset, arch, celltype, pooling).eval()
        case = {"layout": golden_weights.layout_of(model.state_dict()), "eval": {}, "train": {}}
        with torch.no_grad():  # before any training step, which updates the batch norms' running statistics
            case["eval"] = {path: model(images, path=path) for path in ("reference", "fast")}
        classes = case["eval"]["fast"].shape[1]
        case["train"] = {path: _train_step(torch, model, images, classes, path=path) for path in ("reference", "fast")}
        out["cases"][name] = case
    for arch, celltype in args.cells:
        model = network("cifar100", arch, celltype, 2)
        scores = []
        for i in range(2):
            torch.manual_seed(DROPOUT_SEED + i)
            scores.append(score_network(model, [images[16 * i : 16 * (i + 1)]], "sahd").score)
        out["scores"][f"{arch} {celltype}"] = sum(scores) / 2
    return out


# --- the driver -------------------------------------------------------------------------------------
def _run_side(args: argparse.Namespace, side: str, env: dict[str, str]) -> dict:
    import torch

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.pt"
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", side, "--out", str(out)]
        cmd += ["--original", args.original, "--threads", str(args.threads), "--cells", json.dumps(args.cells)]
        process_env = {**os.environ, **env}
        if side == "original":  # its process must not find snasnet's spikingjelly 2.0 first
            process_env.pop("PYTHONPATH", None)
        done = subprocess.run(cmd, env=process_env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"the {side} side failed:\n{done.stderr.strip()[-3000:]}")
        return torch.load(out, weights_only=True)


def _gradient_line(ours: dict, original: dict) -> str:
    worst_name, worst, identical = "", 0.0, 0
    for name, reference in original["grads"].items():
        scale = float(reference.abs().max()) or 1.0
        diff = float((ours["grads"][name] - reference).abs().max()) / scale
        identical += diff == 0.0
        if diff >= worst:
            worst_name, worst = name, diff
    loss_diff = abs(float(ours["loss"] - original["loss"]))
    loss = "identical" if loss_diff == 0.0 else f"|diff| {loss_diff:.3g}"
    return (
        f"loss {loss}; gradients bit-identical for {identical}/{len(original['grads'])} parameters, largest relative "
        f"difference {worst:.3g} ({worst_name})"
    )


def _sample_cells(count: int, seed: int) -> list[list[str]]:
    import torch

    from snasnet.network.arch import sample

    generator = torch.Generator().manual_seed(seed)
    return [[str(a), a.celltype] for a in (sample(generator, ("backward", "forward")[i % 2]) for i in range(count))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--original", required=True, help="checkout of the original code, with sj14/ in it")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cells", default="4", help="how many sampled cells to score (or, internally, the list)")
    parser.add_argument("--seed", type=int, default=0, help="the seed the cells are sampled with")
    parser.add_argument(
        "--portable", action="store_true", help="run both sides in the portable mode (one thread; tests/data's env)"
    )
    parser.add_argument("--worker", choices=("original", "snasnet"), help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        import torch

        args.cells = json.loads(args.cells)
        torch.save((_original_side if args.worker == "original" else _snasnet_side)(args), args.out)
        return
    problem = check_original(args.original)
    if problem:
        sys.exit(problem)
    sys.path.insert(0, str(TESTS))
    import golden_data

    env: dict[str, str] = {}
    if args.portable:
        env, line = golden_data.portable_environment()
        if env is None:
            sys.exit(line)
        args.threads = 1
    try:
        args.cells = _sample_cells(int(args.cells), args.seed)
    except ValueError:
        sys.exit(f"--cells {args.cells!r}: give a number of cells to score, e.g. 4")
    import torch

    print(
        f"{platform.processor() or platform.machine()}, CPU capability {torch.backends.cpu.get_cpu_capability()}, "
        f"torch {torch.__version__}, {args.threads} threads; "
        f"{golden_data.portable_environment()[1] if args.portable else 'native kernels'}"
    )
    sides = {side: _run_side(args, side, env) for side in ("original", "snasnet")}
    recording = golden_data.PORTABLE_RECORDING if args.portable else golden_data.native_recording()[0]
    for name, (preset, arch, celltype, pooling) in CASES.items():
        ours, theirs = sides["snasnet"]["cases"][name], sides["original"]["cases"][name]
        layout = "same state_dict layout" if ours["layout"] == theirs["layout"] else "DIFFERENT state_dict layouts"
        print(f"\n{name}: {preset}, {celltype} cell {arch}, second_avgpooling {pooling}, T = {TIMESTEPS}; {layout}")
        reference = theirs["eval"]["original"]
        for path in ("reference", "fast"):
            found = golden_data.match(ours["eval"][path], {"logits": reference, "pred": reference.argmax(1)})
            print(f"  eval, {path} path against the original: {found.summary()}")
            print(f"  train step, {path} path: {_gradient_line(ours['train'][path], theirs['train']['original'])}")
        if name == "cifar100_bw" and recording:
            found = golden_data.match(reference, golden_data.load_recording(recording))
            print(f"  the original against the recording {recording}: {found.summary()}")
    print(
        "\nSAHD at the same weights (cifar100 preset, 2 batches of 16, train mode); the original's kernel code in its "
        "float32, and its formula in float64 (the rounding snasnet's kernels have):"
    )
    for cell, (theirs, theirs64) in sides["original"]["scores"].items():
        ours = sides["snasnet"]["scores"][cell]
        print(
            f"  {cell:28s} original {theirs:11.6f} (float64 {theirs64:.9f})  snasnet {ours:.9f}  relative diff "
            f"{abs(ours - theirs) / abs(theirs):.2g} ({abs(ours - theirs64) / abs(theirs64):.2g})"
        )


if __name__ == "__main__":
    main()

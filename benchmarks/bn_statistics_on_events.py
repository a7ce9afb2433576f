"""What do batch-norm statistics shared by all timesteps cost a network on event frames? Trained checkpoints.

    python benchmarks/bn_statistics_on_events.py runs/train-<time>/checkpoints/last.pt [more checkpoints]

With ``--norm step`` (the original's; the frames default before ``running``), training normalises each timestep
with that step's own batch statistics, while evaluation normalises every step with one set of running statistics.
On static images the steps differ little; on event frames they differ enough that the validation accuracy of a
digits-dvs run swings between epochs. For each
checkpoint this prints the test accuracy with:

- ``running``: the running statistics (what ``snasnet eval`` reports);
- ``shared``: one mean and variance per layer re-estimated over the whole training set (precise batch norm): is
  the running average merely noisy?
- ``per step``: one mean and variance per layer and timestep from the training set (the statistics of BNTT, Kim &
  Panda 2021, without its per-step scales): what evaluation would score if it normalised as training does;
- ``test batch``: each step normalised with the test batch's own statistics (uses the test images: a bound).

The batch norms are swapped for a probe that counts its calls: on the reference path every batch norm runs once
per timestep, in order, so the n-th call of a forward pass is step n.
"""

from __future__ import annotations

import argparse
import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from snasnet.data.datasets import DataBundle, get_dataset
from snasnet.network.checkpoint import load_checkpoint, read_checkpoint, trained_on
from snasnet.network.model import SNASNet
from snasnet.train.evaluate import evaluate


class StepStatistics(nn.Module):
    """Stands in for a trained batch norm: ``collect`` normalises with the batch's statistics and sums them per
    step; ``shared``/``per step`` normalise with the collected ones; ``batch`` with the batch's own."""

    def __init__(self, bn: nn.BatchNorm2d, timesteps: int) -> None:
        super().__init__()
        self.bn, self.timesteps, self.mode, self.step = bn, timesteps, "collect", 0
        channels = bn.num_features
        self.sums = torch.zeros(timesteps, 2, channels, dtype=torch.float64)  # per step: sum x, sum x^2
        self.counts = torch.zeros(timesteps, dtype=torch.float64)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t = self.step % self.timesteps
        self.step += 1
        if self.mode in ("collect", "batch"):
            mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False)
            if self.mode == "collect":
                values = x.transpose(0, 1).flatten(1).double()
                self.sums[t] += torch.stack([values.sum(1), (values * values).sum(1)])
                self.counts[t] += values.shape[1]
        else:
            if self.mode == "per step":
                sums, counts = self.sums[t], self.counts[t]
            else:
                sums, counts = self.sums.sum(0), self.counts.sum()
            mean = sums[0] / counts
            var = sums[1] / counts - mean * mean
            mean, var = mean.float(), var.float()
        return F.batch_norm(x, mean, var, self.bn.weight, self.bn.bias, False, 0.0, self.bn.eps)


def probe(model: nn.Module, timesteps: int) -> list[StepStatistics]:
    """Swap every batch norm of ``model`` for a StepStatistics (in place); the counters restart at each forward."""
    probes = []
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                stand_in = StepStatistics(child, timesteps)
                setattr(module, child_name, stand_in)
                probes.append(stand_in)

    def restart(*_: object) -> None:
        for p in probes:
            p.step = 0

    model.register_forward_pre_hook(restart)
    return probes


def accuracy(model: nn.Module, data, batch_size: int = 128) -> float:
    hits = total = 0
    with torch.no_grad():
        for images, labels in DataLoader(data, batch_size=batch_size):
            hits += int((model(images).argmax(1) == labels).sum())
            total += len(labels)
    return hits / total


MODES = ("running", "shared", "per step", "test batch")


def accuracies(model: SNASNet, bundle: DataBundle, modes: tuple[str, ...] = MODES) -> dict[str, float]:
    """Test accuracy of ``model`` (left untouched: a copy is probed) under each normalisation of ``modes``."""
    figures = {}
    if "running" in modes:
        figures["running"] = evaluate(model, bundle.test, device="cpu").top1
    probed = [mode for mode in modes if mode != "running"]
    if not probed:
        return figures
    model = copy.deepcopy(model).cpu().eval()
    model.path = "reference"  # every batch norm once per step, in order
    probes = probe(model, model.timesteps)
    with torch.no_grad():
        for images, _ in DataLoader(bundle.train, batch_size=64, shuffle=True):
            model(images)
    for mode in probed:
        own = mode == "test batch"  # the whole test set as one batch, normalised with its own statistics
        for p in probes:
            p.mode = "batch" if own else mode
        figures[mode] = accuracy(model, bundle.test, batch_size=len(bundle.test) if own else 128)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoints", nargs="+")
    parser.add_argument("--data-dir", default=None, help="where the checkpoint's dataset lies")
    args = parser.parse_args()

    print(f"{'checkpoint':<50}" + "".join(f"{mode:>12}" for mode in MODES))
    for path in args.checkpoints:
        trained = trained_on(read_checkpoint(path))
        if "dataset" not in trained:
            raise SystemExit(f"{path} records no dataset: give a checkpoint written by snasnet train")
        data_dir = args.data_dir or trained.get("data_dir")
        bundle = get_dataset(trained["dataset"], data_dir, **trained.get("dataset_options", {}))
        figures = accuracies(load_checkpoint(path), bundle)
        print(f"{str(path)[-50:]:<50}" + "".join(f"{100 * figures[mode]:>11.2f}%" for mode in MODES), flush=True)


if __name__ == "__main__":
    main()

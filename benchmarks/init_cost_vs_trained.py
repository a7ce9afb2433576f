"""Is a cell's cost at initialisation a good proxy for its cost after training? SOPs per image on digits.

    python benchmarks/init_cost_vs_trained.py                  # 20 backward cells, 2 epochs each (~5 min, 2 cores)
    python benchmarks/init_cost_vs_trained.py --archs 30 --epochs 5

Draws ``--archs`` distinct cells with the search's random strategy and scores each as a search does (SAHD and the
SOPs per image of the scoring pass: train mode, batch statistics, every step). Trains each briefly
(``snasnet.train.job``, digits defaults), then counts its SOPs per image on the test images as ``snasnet export energy``
does (eval mode, the last step's unused feedback skipped). Prints Kendall's tau between SOPs at initialisation and
after training (scipy's when installed, else tau-b computed here), and the test accuracy and trained SOPs of the
cells on the Pareto front of (SAHD up, SOPs at initialisation down) beside those of the top-score cell.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from exporters.energy import count_operations
from snasnet.data.datasets import get_dataset
from snasnet.search.job import score_candidate, scoring_batches
from snasnet.search.objectives import parse_objectives, rank
from snasnet.search.strategies import make_strategy
from snasnet.train.job import fit, train_config


def kendall_tau(a: list[float], b: list[float]) -> float:
    """Kendall's tau-b (ties in either list counted as scipy does): scipy's when installed."""
    try:
        from scipy.stats import kendalltau
    except ImportError:
        concordant = discordant = ties_a = ties_b = 0
        for i in range(len(a)):
            for j in range(i + 1, len(a)):
                da, db = a[i] - a[j], b[i] - b[j]
                if da == 0 and db == 0:
                    continue
                if da == 0:
                    ties_a += 1
                elif db == 0:
                    ties_b += 1
                elif (da > 0) == (db > 0):
                    concordant += 1
                else:
                    discordant += 1
        pairs = concordant + discordant
        return (concordant - discordant) / math.sqrt((pairs + ties_a) * (pairs + ties_b))
    return float(kendalltau(a, b).statistic)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=20, help="distinct cells to score and train")
    parser.add_argument("--epochs", type=int, default=2, help="training epochs per cell")
    parser.add_argument("--celltype", default="backward")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    bundle = get_dataset("digits")
    batches = scoring_batches(bundle.search_set, 256, 2, args.seed)
    test_images = [images for images, _ in DataLoader(bundle.test, batch_size=256)]
    archs = make_strategy("random", args.celltype, args.seed, args.archs).propose(args.archs)
    cells = []
    print(f"{'#':>3} {'cell':<20}{'SAHD':>10}{'SOPs init':>12}{'SOPs trained':>14}{'test acc':>10}{'s':>6}")
    with tempfile.TemporaryDirectory() as runs:
        for i, arch in enumerate(archs):
            start = time.perf_counter()
            cand = score_candidate(arch, batches, preset=bundle.preset, seed=args.seed, index=i,
                                   **bundle.model_overrides())  # fmt: skip
            config = train_config(
                "digits", arch=str(arch), celltype=arch.celltype, epochs=args.epochs, seed=args.seed, device="cpu"
            )
            result = fit(config, Path(runs) / f"cell-{i}")
            counts = count_operations(result.model, test_images)
            trained = sum(layer.sops for layer in counts.layers) / counts.images
            accuracy = result.history[-1]["val_acc"]
            cells.append((cand, trained, accuracy))
            print(f"{i:>3} {str(arch):<20}{cand.score:>10.2f}{cand.sops:>12,.0f}{trained:>14,.0f}{accuracy:>10.4f}"
                  f"{time.perf_counter() - start:>6.0f}", flush=True)  # fmt: skip

    init = [c.sops for c, _, _ in cells]
    trained = [t for _, t, _ in cells]
    accuracies = [a for _, _, a in cells]
    print(f"\n{len(cells)} {args.celltype} cells, digits, {args.epochs} epochs each:")
    print(f"Kendall's tau, SOPs/image at initialisation vs after training: {kendall_tau(init, trained):+.3f}")
    print(f"Kendall's tau, SOPs/image after training vs test accuracy: {kendall_tau(trained, accuracies):+.3f}")
    print(f"Kendall's tau, SAHD vs test accuracy: {kendall_tau([c.score for c, _, _ in cells], accuracies):+.3f}")

    ranking = rank([c for c, _, _ in cells], parse_objectives("sahd,sops"))
    by_index = {c.index: (c, t, a) for c, t, a in cells}
    top = max(cells, key=lambda cell: (cell[0].score, -cell[0].index))
    print("\nthe Pareto front of (SAHD up, SOPs at initialisation down), and the top-score cell:")
    print(f"{'#':>3} {'cell':<20}{'SAHD':>10}{'SOPs init':>12}{'SOPs trained':>14}{'test acc':>10}")
    for cand, t, a in [by_index[c.index] for c in ranking.front]:
        mark = "  <- top score" if cand.index == top[0].index else ""
        print(f"{cand.index:>3} {str(cand.arch):<20}{cand.score:>10.2f}{cand.sops:>12,.0f}{t:>14,.0f}{a:>10.4f}{mark}")
    front = [by_index[c.index] for c in ranking.front]
    mean_acc = sum(a for _, _, a in front) / len(front)
    mean_sops = sum(t for _, t, _ in front) / len(front)
    print(f"front ({len(front)} cells): mean test acc {mean_acc:.4f}, mean trained SOPs {mean_sops:,.0f}; "
          f"top-score cell #{top[0].index}: test acc {top[2]:.4f}, trained SOPs {top[1]:,.0f}")  # fmt: skip
    cheapest = min(front, key=lambda cell: cell[0].sops)
    print(f"cheapest front cell #{cheapest[0].index}: test acc {cheapest[2]:.4f}, trained SOPs {cheapest[1]:,.0f} "
          f"({cheapest[1] / top[1]:.2f}x the top-score cell's)")  # fmt: skip
    print(f"all cells: test acc min {min(accuracies):.4f}, max {max(accuracies):.4f}")


if __name__ == "__main__":
    main()

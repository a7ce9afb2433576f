"""Does the training-free score predict accuracy? Kendall's tau between each score and test accuracy on digits.

    python benchmarks/score_vs_accuracy.py                     # 20 cells, 3 epochs each
    python benchmarks/score_vs_accuracy.py --archs 30 --epochs 5 --celltype forward

Scores ``--archs`` distinct cells drawn by the search's random strategy with every registered score
(``sahd``, ``sahd_v1``, ``hamming``), trains each briefly with ``snasnet.train.job`` (digits defaults:
Adam), and prints Kendall's tau between each score and the test accuracy, and between the scores. The paper
reports tau 0.646 for SAHD and 0.519 for plain Hamming on CIFAR-100 (after full training).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from scipy.stats import kendalltau

from snasnet.data.datasets import get_dataset
from snasnet.search.job import score_candidate, scoring_batches
from snasnet.search.score import list_scores
from snasnet.search.strategies import make_strategy
from snasnet.train.job import fit, train_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", type=int, default=20, help="distinct cells to score and train")
    parser.add_argument("--epochs", type=int, default=3, help="training epochs per cell")
    parser.add_argument("--celltype", default="backward")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=256, help="scoring batch size")
    parser.add_argument("--repeat", type=int, default=2, help="scoring batches")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    scores = list_scores()
    bundle = get_dataset("digits")
    batches = scoring_batches(bundle.search_set, args.batch, args.repeat, args.seed)
    archs = make_strategy("random", args.celltype, args.seed, args.archs).propose(args.archs)
    rows = []
    print(f"{'cell':<22}" + "".join(f"{name:>15}" for name in scores) + f"{'test acc':>10}{'train s':>9}")
    with tempfile.TemporaryDirectory() as runs:
        for i, arch in enumerate(archs):
            values = {
                name: score_candidate(arch, batches, preset="digits", score=name, seed=args.seed).score
                for name in scores
            }
            config = train_config(
                "digits", arch=str(arch), celltype=arch.celltype, epochs=args.epochs, seed=args.seed, device="cpu"
            )
            start = time.perf_counter()
            result = fit(config, Path(runs) / f"cell-{i}")
            accuracy = result.history[-1]["val_acc"]
            rows.append((arch, values, accuracy))
            print(
                f"{str(arch):<22}"
                + "".join(f"{values[name]:>15.4f}" for name in scores)
                + f"{accuracy:>10.4f}{time.perf_counter() - start:>9.1f}",
                flush=True,
            )

    accuracies = [acc for _, _, acc in rows]
    print(f"\nKendall's tau with test accuracy after {args.epochs} epochs ({len(rows)} {args.celltype} cells, digits):")
    for name in scores:
        tau, p = kendalltau([values[name] for _, values, _ in rows], accuracies)
        print(f"  {name:<15} tau {tau:+.3f}  (p = {p:.3g})")
    print("Kendall's tau between the scores' rankings:")
    for a in scores:
        for b in scores:
            if a < b:
                tau, _ = kendalltau([v[a] for _, v, _ in rows], [v[b] for _, v, _ in rows])
                print(f"  {a} vs {b}: {tau:+.3f}")
    print(f"test accuracy: min {min(accuracies):.4f}, max {max(accuracies):.4f}")


if __name__ == "__main__":
    main()

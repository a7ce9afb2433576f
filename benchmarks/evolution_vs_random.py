"""Aging evolution vs the original's random search at the same budget: the mean score of each one's top 5.

    python benchmarks/evolution_vs_random.py                          # digits, 40 candidates, seeds 0-2
    python benchmarks/evolution_vs_random.py --budget 100 --seeds 0 1 2 3 4 --population 20

Both strategies score with the same seed, so a cell both propose gets the same score (its weights and the
scoring batches depend on the seed and the cell only). Evolution's first ``population`` cells are the random
search's first ones.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

import torch

from snasnet.search.job import SearchConfig, run_search


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--celltype", default="backward")
    parser.add_argument("--budget", type=int, default=40)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--population", type=int, default=10)
    parser.add_argument("--tournament", type=int, default=5)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--score", default="sahd")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    means: dict[str, list[float]] = {"random": [], "evolution": []}
    print(f"mean {args.score} of the top {args.top} of {args.budget} {args.celltype} candidates on {args.dataset}")
    print(f"{'seed':>5}{'random':>12}{'evolution':>12}{'shared cells':>14}")
    with tempfile.TemporaryDirectory() as runs:
        for seed in args.seeds:
            tops = {}
            for strategy in means:
                config = SearchConfig(
                    dataset=args.dataset,
                    celltype=args.celltype,
                    strategy=strategy,
                    num_search=args.budget,
                    score=args.score,
                    seed=seed,
                    population=args.population,
                    tournament=args.tournament,
                )
                result = run_search(config, Path(runs) / f"{strategy}-{seed}")
                tops[strategy] = result.ranking[: args.top]
                means[strategy].append(statistics.fmean(c.score for c in tops[strategy]))
            shared = len({c.arch for c in tops["random"]} & {c.arch for c in tops["evolution"]})
            print(f"{seed:>5}{means['random'][-1]:>12.3f}{means['evolution'][-1]:>12.3f}{shared:>14}", flush=True)
    print(f"{'mean':>5}{statistics.fmean(means['random']):>12.3f}{statistics.fmean(means['evolution']):>12.3f}")


if __name__ == "__main__":
    main()

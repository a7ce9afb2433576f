"""Does temporal feedback help on temporal data? Backward vs forward cells trained on digits-dvs event frames.

    python benchmarks/feedback_on_events.py                        # 20 candidates per cell type, 5 cells x 3 seeds,
                                                                   # 15 epochs each (about 70 min on 2 cores)
    python benchmarks/feedback_on_events.py --search 5 --epochs 2 --seeds 0     # a quick look (about 5 min)

Equal budgets: the backward and the forward search score the same number of candidates with the same strategy,
seed and scoring batches (``snasnet.search.job.run_search``, SAHD at initialisation); every cell is then trained with
the same recipe (``snasnet train --dataset digits-dvs``'s defaults: Adam 1e-2, 2-pixel shifts, T=6) and the same
seeds. The cells:

- the searched backward cell (the top score among the backward candidates that have a backward edge) and the
  searched forward cell (the top score of its search);
- the searched backward cell with its backward edges removed (the same forward wiring without feedback): the
  direct test of what the feedback adds to that cell;
- the paper's CIFAR-10 and CIFAR-100 cells (both backward; the original's README).

For each: its SAHD score on the same scoring batches, parameters, the test accuracy of the last epoch for each
seed (no choice made on the test images; digits-dvs validates on its test split), their mean and sample standard
deviation, the best epoch's accuracy (chosen on those test images, so optimistic), the last epoch's accuracy with
per-step batch-norm statistics (``bn_statistics_on_events.py``: the swing of shared statistics taken out), spikes
per test image (eval mode, as ``snasnet eval`` counts them) and the training time. Runs go to a temporary
directory.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from bn_statistics_on_events import accuracies

from snasnet.data.datasets import get_dataset
from snasnet.network.arch import Architecture
from snasnet.network.presets import default_timesteps
from snasnet.search.job import SearchConfig, run_search, score_candidate, scoring_batches
from snasnet.train.evaluate import evaluate
from snasnet.train.job import fit, train_config

DATASET = "digits-dvs"
#: the original's README: ``--cnt_mat`` of its CIFAR-10 and CIFAR-100 networks (both backward cells)
PAPER_CELLS = {"paper CIFAR-10": "0303 0030 2002 0200", "paper CIFAR-100": "0302 0030 3003 0000"}


@dataclass
class Row:
    name: str
    arch: Architecture
    score: float = float("nan")
    params: int = 0
    accuracies: list[float] = field(default_factory=list)  # last epoch, one per seed
    best: list[float] = field(default_factory=list)  # best epoch, one per seed
    per_step: list[float] = field(default_factory=list)  # last epoch, per-step batch-norm statistics, one per seed
    spikes: list[float] = field(default_factory=list)  # per test image, one per seed
    seconds: float = 0.0


def without_feedback(arch: Architecture) -> Architecture | None:
    """The forward cell with ``arch``'s forward edges and none of its backward ones (None: no such cell, e.g. when
    the input reaches the output only through feedback)."""
    matrix = tuple(tuple(v if r < c else 0 for c, v in enumerate(row)) for r, row in enumerate(arch.matrix))
    cell = Architecture(matrix, "forward")
    return cell if cell.reaches_output else None


def has_feedback(arch: Architecture) -> bool:
    return arch.celltype == "backward" and any(edge.backward for edge in arch.pruned().edges())


def searched(celltype: str, args: argparse.Namespace, runs: Path) -> Architecture:
    """The top-score cell of a search; of a backward search, the top-score cell with a backward edge (a backward
    search also samples cells whose pairs all drew forward edges, and those test nothing here)."""
    config = SearchConfig(
        dataset=DATASET, data_dir=args.data_dir, celltype=celltype, num_search=args.search, seed=args.seed, device="cpu"
    )
    start = time.perf_counter()
    result = run_search(config, runs / f"search-{celltype}")
    top = result.ranking[0]
    print(f"search {celltype:<8}: {len(result.candidates)} candidates in {time.perf_counter() - start:.0f} s, "
          f"top score {top.score:.2f} for {top.arch}", flush=True)  # fmt: skip
    if celltype == "forward" or has_feedback(top.arch):
        return top.arch
    with_feedback = [c for c in result.ranking if has_feedback(c.arch)]
    if not with_feedback:
        raise SystemExit(f"none of the {len(result.candidates)} backward candidates has a backward edge: search more")
    best = with_feedback[0]
    print(f"  it has no backward edge; the top cell with one: {best.arch}, score {best.score:.2f} "
          f"(rank {result.ranking.index(best) + 1})")  # fmt: skip
    return best.arch


def spread(values: list[float]) -> str:
    mean = statistics.fmean(values)
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{100 * mean:6.2f} ± {100 * sd:4.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--search", type=int, default=20, help="candidates scored per cell type")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs per run (default: the dataset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds for every cell")
    parser.add_argument("--seed", type=int, default=0, help="the searches' seed")
    parser.add_argument("--data-dir", default=None, help="where digits-dvs is cached (default: as snasnet's jobs)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    bundle = get_dataset(DATASET, args.data_dir)
    timesteps = default_timesteps(DATASET)
    batches = scoring_batches(bundle.search_set, 256, 2, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        backward, forward = searched("backward", args, runs), searched("forward", args, runs)
        rows = [Row("searched backward", backward), Row("searched forward", forward)]
        ablated = without_feedback(backward)
        if ablated is None:
            print(f"the searched backward cell {backward} reaches its output only through feedback: no ablation row")
        else:
            rows.append(Row("searched bw, no feedback", ablated))
        rows += [Row(name, Architecture.parse(text, "backward")) for name, text in PAPER_CELLS.items()]

        for i, row in enumerate(rows):
            cand = score_candidate(row.arch, batches, preset=bundle.preset, seed=args.seed, timesteps=timesteps,
                                   **bundle.model_overrides())  # fmt: skip
            row.score, row.params = cand.score, cand.params
            for seed in args.seeds:
                start = time.perf_counter()
                config = train_config(DATASET, arch=str(row.arch), celltype=row.arch.celltype, seed=seed,
                                      epochs=args.epochs, data_dir=args.data_dir, device="cpu")  # fmt: skip
                result = fit(config, runs / f"cell-{i}-seed-{seed}")
                final = evaluate(result.model, bundle.test, device="cpu")
                row.seconds += time.perf_counter() - start
                row.accuracies.append(final.top1)
                row.per_step.append(accuracies(result.model, bundle, ("per step",))["per step"])
                row.best.append(result.best_acc or 0.0)
                row.spikes.append(final.total_spikes_per_image)
                print(f"{row.name:<26}{str(row.arch):<21}seed {seed}: test acc {100 * final.top1:6.2f}% "
                      f"(best epoch {100 * row.best[-1]:6.2f}%, per-step statistics "
                      f"{100 * row.per_step[-1]:6.2f}%), {final.total_spikes_per_image:9,.0f} spikes/image, "
                      f"{time.perf_counter() - start:4.0f} s", flush=True)  # fmt: skip

    epochs = args.epochs or train_config(DATASET).epochs
    seeds = " ".join(map(str, args.seeds))
    print(f"\n{DATASET}, T={timesteps}, {epochs} epochs per run, seeds {seeds}; searches of {args.search} "
          f"candidates per cell type (seed {args.seed}). Accuracies in %, mean ± sd:")  # fmt: skip
    print(f"{'cell':<26}{'arch':<21}{'type':<10}{'SAHD':>8}{'params':>9}{'last-epoch acc':>16}{'best-epoch acc':>16}"
          f"{'per-step stats':>16}{'spikes/image':>14}{'s/run':>7}")  # fmt: skip
    for row in rows:
        print(f"{row.name:<26}{str(row.arch):<21}{row.arch.celltype:<10}{row.score:>8.2f}{row.params:>9,}"
              f"{spread(row.accuracies):>16}{spread(row.best):>16}{spread(row.per_step):>16}"
              f"{statistics.fmean(row.spikes):>14,.0f}"
              f"{row.seconds / len(args.seeds):>7.0f}")  # fmt: skip
    by_name = {row.name: row for row in rows}
    bw, fw = by_name["searched backward"], by_name["searched forward"]
    pairs = [("searched backward - searched forward", bw, fw)]
    if "searched bw, no feedback" in by_name:
        pairs.append(
            ("searched backward - the same cell without its feedback", bw, by_name["searched bw, no feedback"])
        )
    print()
    for label, a, b in pairs:
        last = statistics.fmean(a.accuracies) - statistics.fmean(b.accuracies)
        step = statistics.fmean(a.per_step) - statistics.fmean(b.per_step)
        print(f"{label}: {100 * last:+.2f} points of last-epoch test accuracy, {100 * step:+.2f} with per-step "
              "statistics")  # fmt: skip


if __name__ == "__main__":
    main()

"""Does temporal feedback help on temporal data? Backward vs forward cells trained on digits-dvs event frames, with
each normalisation (``--norm`` of ``snasnet train``).

    python benchmarks/feedback_on_events.py                        # 20 candidates per cell type, 5 cells x 3 seeds,
                                                                   # 15 epochs each (about 70 min on 2 cores)
    python benchmarks/feedback_on_events.py --search 5 --epochs 2 --seeds 0     # a quick look (about 5 min)
    # the normalisations on the searched cells of README's table (no search), 3 cells x 3 seeds each:
    python benchmarks/feedback_on_events.py --norms step joint running --backward "0003 0000 2000 0020" \
        --forward "0344 0024 0002 0000" --cells "searched backward" "searched forward" "paper CIFAR-100"

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
directory. ``--backward`` / ``--forward`` give the searched cells by their strings instead of searching again;
``--cells`` keeps only the named rows; ``--norms`` trains every row with each normalisation (default: digits-dvs's)
and prints, per normalisation, the last-epoch and best-epoch accuracy, their gap and the spikes per image;
``--results FILE`` appends each run as a JSON line, and ``--table FILE...`` prints the tables from such files
(runs split over several processes) without training.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from bn_statistics_on_events import accuracies

from snasnet.data.datasets import get_dataset
from snasnet.network.arch import Architecture
from snasnet.network.norms import NORMS
from snasnet.network.presets import default_timesteps, norm_for_dataset
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
    norm: str = ""
    score: float = float("nan")
    params: int = 0
    accuracies: list[float] = field(default_factory=list)  # last epoch, one per seed
    best: list[float] = field(default_factory=list)  # best epoch, one per seed
    per_step: list[float] = field(default_factory=list)  # last epoch, per-step batch-norm statistics, one per seed
    spikes: list[float] = field(default_factory=list)  # per test image, one per seed
    curves: list[list[float]] = field(default_factory=list)  # validation accuracy per epoch, one per seed
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


ROW_NAMES = ("searched backward", "searched forward", "searched bw, no feedback", *PAPER_CELLS)


def cells(args: argparse.Namespace, runs: Path) -> list[tuple[str, Architecture]]:
    """The rows' cells: the searched ones (searched again unless given), the ablation, the paper's."""
    wanted = set(args.cells or ROW_NAMES)
    needs = {"searched backward", "searched bw, no feedback"} & wanted
    backward = forward = None
    if needs:
        backward = Architecture.parse(args.backward, "backward") if args.backward else searched("backward", args, runs)
    if "searched forward" in wanted:
        forward = Architecture.parse(args.forward, "forward") if args.forward else searched("forward", args, runs)
    rows = [("searched backward", backward), ("searched forward", forward)]
    if "searched bw, no feedback" in wanted:
        ablated = without_feedback(backward)
        if ablated is None:
            print(f"the searched backward cell {backward} reaches its output only through feedback: no ablation row")
        rows.append(("searched bw, no feedback", ablated))
    rows += [(name, Architecture.parse(text, "backward")) for name, text in PAPER_CELLS.items()]
    return [(name, arch) for name, arch in rows if name in wanted and arch is not None]


def train_rows(args: argparse.Namespace) -> list[Row]:
    bundle = get_dataset(DATASET, args.data_dir)
    timesteps = default_timesteps(DATASET)
    batches = scoring_batches(bundle.search_set, 256, 2, args.seed)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        runs = Path(tmp)
        chosen = cells(args, runs)
        for norm in args.norms:
            for i, (name, arch) in enumerate(chosen):
                row = Row(name, arch, norm)
                rows.append(row)
                cand = score_candidate(arch, batches, preset=bundle.preset, seed=args.seed, timesteps=timesteps,
                                       **bundle.model_overrides())  # fmt: skip
                row.score, row.params = cand.score, cand.params
                for seed in args.seeds:
                    start = time.perf_counter()
                    config = train_config(DATASET, arch=str(arch), celltype=arch.celltype, seed=seed, norm=norm,
                                          epochs=args.epochs, data_dir=args.data_dir, device="cpu")  # fmt: skip
                    result = fit(config, runs / f"{norm}-cell-{i}-seed-{seed}")
                    final = evaluate(result.model, bundle.test, device="cpu")
                    seconds = time.perf_counter() - start
                    row.seconds += seconds
                    row.accuracies.append(final.top1)
                    row.per_step.append(accuracies(result.model, bundle, ("per step",))["per step"])
                    row.best.append(result.best_acc or 0.0)
                    row.spikes.append(final.total_spikes_per_image)
                    row.curves.append([h["val_acc"] for h in result.history])
                    print(f"{norm:<8}{name:<26}{str(arch):<21}seed {seed}: test acc {100 * final.top1:6.2f}% "
                          f"(best epoch {100 * row.best[-1]:6.2f}%, per-step statistics "
                          f"{100 * row.per_step[-1]:6.2f}%), {final.total_spikes_per_image:9,.0f} spikes/image, "
                          f"{seconds:4.0f} s", flush=True)  # fmt: skip
                    if args.results:
                        record = {"norm": norm, "name": name, "arch": str(arch), "celltype": arch.celltype,
                                  "seed": seed, "epochs": config.epochs, "score": row.score, "params": row.params,
                                  "last": final.top1, "best": row.best[-1], "per_step": row.per_step[-1],
                                  "spikes": final.total_spikes_per_image, "seconds": seconds,
                                  "curve": row.curves[-1]}  # fmt: skip
                        with open(args.results, "a") as f:
                            f.write(json.dumps(record) + "\n")
    return rows


def rows_from(files: list[str]) -> list[Row]:
    """The rows of ``--results`` files, by normalisation and cell (the order of the registry and of a run's
    table), then by epochs. Runs of another length than the
    dataset's epochs are rows of their own, named with their epochs (averaged together they would mean nothing)."""
    rows: dict[tuple[str, str, str, int], Row] = {}
    default_epochs = train_config(DATASET).epochs
    for path in files:
        for line in Path(path).read_text().splitlines():
            r = json.loads(line)
            key = (r["norm"], r["name"], r["arch"], r["epochs"])
            name = r["name"] if r["epochs"] == default_epochs else f"{r['name']}, {r['epochs']} ep"
            row = rows.setdefault(key, Row(name, Architecture.parse(r["arch"], r["celltype"]), r["norm"],
                                           r["score"], r["params"]))  # fmt: skip
            row.accuracies.append(r["last"])
            row.best.append(r["best"])
            row.per_step.append(r["per_step"])
            row.spikes.append(r["spikes"])
            row.curves.append(r["curve"])
            row.seconds += r["seconds"]

    def order(key: tuple[str, str, str, int]) -> tuple[int, int, int]:
        norm, name, _, epochs = key
        return NORMS.names().index(norm), ROW_NAMES.index(name) if name in ROW_NAMES else len(ROW_NAMES), epochs

    return [rows[key] for key in sorted(rows, key=order)]


def print_feedback_table(rows: list[Row], norm: str) -> None:
    rows = [row for row in rows if row.norm == norm]
    print(f"\nnormalisation {norm}:")
    print(f"{'cell':<26}{'arch':<21}{'type':<10}{'SAHD':>8}{'params':>9}{'last-epoch acc':>16}{'best-epoch acc':>16}"
          f"{'per-step stats':>16}{'spikes/image':>14}{'s/run':>7}")  # fmt: skip
    for row in rows:
        print(f"{row.name:<26}{str(row.arch):<21}{row.arch.celltype:<10}{row.score:>8.2f}{row.params:>9,}"
              f"{spread(row.accuracies):>16}{spread(row.best):>16}{spread(row.per_step):>16}"
              f"{statistics.fmean(row.spikes):>14,.0f}"
              f"{row.seconds / len(row.accuracies):>7.0f}")  # fmt: skip
    by_name = {row.name: row for row in rows}
    pairs = [
        (label, by_name["searched backward"], by_name[other])
        for label, other in (
            ("searched backward - searched forward", "searched forward"),
            ("searched backward - the same cell without its feedback", "searched bw, no feedback"),
        )
        if {"searched backward", other} <= by_name.keys()
    ]
    for label, a, b in pairs:
        last = statistics.fmean(a.accuracies) - statistics.fmean(b.accuracies)
        step = statistics.fmean(a.per_step) - statistics.fmean(b.per_step)
        print(f"{label}: {100 * last:+.2f} points of last-epoch test accuracy, {100 * step:+.2f} with per-step "
              "statistics")  # fmt: skip


def print_norm_table(rows: list[Row]) -> None:
    """The normalisations side by side, per cell (mean ± sd over the seeds): the last epoch's test accuracy; on the
    validation split (what chooses best.pt), the last epoch's accuracy, the best epoch's, and how far the last
    falls short of the best (mean of the per-seed gaps: the swing a user who stops at the last epoch pays);
    spikes per test image."""
    print(f"\n{'normalisation':<15}{'cell':<26}{'arch':<21}{'test, last':>16}{'val, last':>16}{'val, best':>16}"
          f"{'best - last':>13}{'spikes/image':>14}{'seeds':>7}")  # fmt: skip
    for row in rows:
        last = [curve[-1] for curve in row.curves]
        best = [max(curve) for curve in row.curves]
        gap = statistics.fmean(b - a for a, b in zip(last, best, strict=True))
        print(f"{row.norm:<15}{row.name:<26}{str(row.arch):<21}{spread(row.accuracies):>16}{spread(last):>16}"
              f"{spread(best):>16}{100 * gap:>13.2f}{statistics.fmean(row.spikes):>14,.0f}"
              f"{len(row.accuracies):>7}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--search", type=int, default=20, help="candidates scored per cell type")
    parser.add_argument("--epochs", type=int, default=None, help="training epochs per run (default: the dataset's)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="training seeds for every cell")
    parser.add_argument("--seed", type=int, default=0, help="the searches' seed")
    parser.add_argument("--data-dir", default=None, help="where digits-dvs is cached (default: as snasnet's jobs)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    parser.add_argument(
        "--norms",
        nargs="+",
        default=[norm_for_dataset(DATASET)],
        choices=NORMS.names(),
        help="train every cell with each of these normalisations (default: the dataset's)",
    )
    parser.add_argument("--backward", default=None, help="the searched backward cell (default: search for it)")
    parser.add_argument("--forward", default=None, help="the searched forward cell (default: search for it)")
    parser.add_argument("--cells", nargs="+", choices=ROW_NAMES, default=None, help="only these rows")
    parser.add_argument("--results", default=None, help="append each run as a JSON line to this file")
    parser.add_argument("--table", nargs="+", default=None, help="print the tables of --results files; no training")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    rows = rows_from(args.table) if args.table else train_rows(args)
    epochs = args.epochs or train_config(DATASET).epochs
    seeds = " ".join(map(str, args.seeds))
    source = f"from {', '.join(args.table)}" if args.table else f"{epochs} epochs per run, seeds {seeds}"
    print(f"\n{DATASET}, T={default_timesteps(DATASET)}, {source}; searches of {args.search} candidates per cell "
          f"type (seed {args.seed}) unless the cells were given. Accuracies in %, mean ± sd:")  # fmt: skip
    norms = list(dict.fromkeys(row.norm for row in rows))
    for norm in norms:
        print_feedback_table(rows, norm)
    if len(norms) > 1:
        print_norm_table(rows)


if __name__ == "__main__":
    main()

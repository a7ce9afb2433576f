"""`snasnet search`: the training-free SAHD search, with a progress bar and the top-k table at the end."""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from snasnet_cli import closed_pipe
from snasnet_cli.config_option import config_extras, config_option, from_file, on_command_line
from snasnet_cli.options import (
    DATASET_TIMESTEPS_HELP,
    CelltypeOption,
    DataDirOption,
    DatasetOption,
    DeviceOption,
    QuietOption,
    RunDirOption,
    SeedOption,
    TensorBoardOption,
    choices,
)

EVOLUTION = "Evolution"
OBJECTIVES = "Objectives"


class RateColumn(ProgressColumn):
    """Candidates per second."""

    def render(self, task) -> Text:
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.2f} cand/s", style="progress.data.speed")


class SearchProgress:
    """Turns the search's events into a rich progress bar (the same events a dashboard reads)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("[bold]search[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TextColumn("best {task.fields[best]}"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self.task = None
        self.best = -math.inf

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "run_started":
            done = event.get("resumed") or 0
            if event.get("space_exhausted"):
                self.console.print(
                    f"the {event.get('celltype')} space holds {event['total']} distinct cells: scoring all of them"
                )
            if done:
                self.console.print(f"resuming: {done} candidates already scored")
            self.progress.start()
            self.task = self.progress.add_task("search", total=event.get("total"), completed=done, best="-")
        elif kind == "candidate_scored" and self.task is not None:
            score = event.get("score")
            if score is not None and score > self.best:
                self.best = score
            self.progress.update(self.task, advance=1, best=f"{self.best:.3f}" if math.isfinite(self.best) else "-")
        elif kind in ("search_finished", "run_finished"):
            self.stop()

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None


def _count(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def top_table(result, top_k: int) -> Table:
    several = bool(result.fronts)
    title = f"top {min(top_k, len(result.ranking))} of {len(result.candidates)} candidates"
    if several and result.ranking:  # (one cell type per search: the rows keep to 80 columns without it)
        title += f" ({result.ranking[0].arch.celltype} cells), by front"
    table = Table(title=title)
    for column, justify in (("rank", "right"), ("index", "right"), ("arch", "left"), ("score", "right")):
        table.add_column(column, justify=justify)
    for column in ("SOPs/image", "front") if several else ("firing rate",):
        table.add_column(column, justify="right")
    for rank, c in enumerate(result.ranking[:top_k], start=1):
        score = f"{c.score:.4f}" if math.isfinite(c.score) else "-inf (singular)"
        if several:
            extra = [_count(c.sops), str(result.fronts.get(c.index, "-"))]
            table.add_row(str(rank), str(c.index), str(c.arch), score, *extra)
        else:
            table.add_row(str(rank), str(c.index), f"{c.arch} ({c.arch.celltype})", score, f"{c.mean_firing_rate:.3f}")
    return table


def front_table(result, objectives: tuple[str, ...] = ()) -> Table:
    """The Pareto front of a search with several objectives, the chosen cell marked (MACs: pareto.csv); the
    energy per image too when it is an objective."""
    energy = "energy" in objectives
    table = Table(title=f"Pareto front: {len(result.front)} of {len(result.candidates)} candidates")
    for column in ("index", "arch", "score", "SOPs/image", "params", *(["nJ/image"] if energy else []), "chosen"):
        table.add_column(column, justify="left" if column == "arch" else "right")
    for c in result.front:
        chosen = "*" if result.chosen is not None and c.index == result.chosen.index else ""
        costs = [_count(c.sops), _count(c.params)]
        if energy:
            costs.append("-" if c.energy_pj is None else f"{c.energy_pj / 1e3:.4g}")
        table.add_row(str(c.index), str(c.arch), f"{c.score:.4f}", *costs, chosen)
    return table


def search(
    ctx: typer.Context,
    dataset: DatasetOption = "digits",
    data_dir: DataDirOption = None,
    download: Annotated[bool, typer.Option("--download", help="Download the dataset if missing (online).")] = False,
    celltype: CelltypeOption = "backward",
    num_search: Annotated[
        int | None,
        typer.Option(
            "--num-search", "-n", help="Distinct candidates to score \\[default: every cell for exhaustive, else 5000]."
        ),
    ] = None,
    strategy: Annotated[
        str,
        typer.Option("--strategy", help=f"{choices('snasnet.search.strategies:STRATEGIES')} (random: the original's)."),
    ] = "random",
    batch_size: Annotated[int, typer.Option("--batch-size", help="Images per scoring batch.")] = 256,
    repeat: Annotated[int, typer.Option("--repeat", help="Scoring batches per candidate (scores averaged).")] = 2,
    timesteps: Annotated[int | None, typer.Option("--timesteps", help=DATASET_TIMESTEPS_HELP)] = None,
    score: Annotated[
        str,
        typer.Option(
            "--score",
            help=f"{choices('snasnet.search.score:SCORES')} (sahd: the paper's and code's; sahd_v1: first release).",
        ),
    ] = "sahd",
    seed: SeedOption = 0,
    device: DeviceOption = "auto",
    top_k: Annotated[int, typer.Option("--top-k", help="Candidates in the final table and search_finished.")] = 10,
    run_dir: RunDirOption = None,
    resume: Annotated[
        Path | None,
        typer.Option("--resume", help="Continue the interrupted search in this run directory, with its settings."),
    ] = None,
    objectives: Annotated[
        str | None,
        typer.Option(
            "--objectives",
            help=f"What to rank by, comma-separated: {choices('snasnet.search.objectives:OBJECTIVES')} (scores up, "
            "costs down). Several: a Pareto front, pareto.csv \\[default: the --score alone].",
            rich_help_panel=OBJECTIVES,
        ),
    ] = None,
    max_sops: Annotated[
        float | None,
        typer.Option(help="Choose the best score with at most this many SOPs per image.", rich_help_panel=OBJECTIVES),
    ] = None,
    max_params: Annotated[
        int | None,
        typer.Option(help="Choose the best score with at most this many parameters.", rich_help_panel=OBJECTIVES),
    ] = None,
    population: Annotated[int, typer.Option(help="Population size.", rich_help_panel=EVOLUTION)] = 50,
    tournament: Annotated[int, typer.Option(help="Members drawn to pick each parent.", rich_help_panel=EVOLUTION)] = 10,
    quiet: QuietOption = False,
    tensorboard: TensorBoardOption = False,
    config_file: config_option("snasnet.search.job:SearchConfig") = None,
) -> None:
    """Training-free architecture search: score cells at initialisation (SAHD) and rank them.

    Writes a run directory: events.jsonl, candidates.csv and best_arch.json, the input of
    [bold]snasnet train --arch-file[/bold]. Under [bold]torchrun[/bold] the processes share the candidates.
    """
    from snasnet.core.errors import ConfigError
    from snasnet.core.interrupts import sigterm_as_interrupt
    from snasnet.core.runs import default_run_dir
    from snasnet.search.job import SearchConfig, resume_config, run_search
    from snasnet.search.objectives import parse_objectives

    options = {
        **config_extras(ctx),  # settings of the --config file that have no flag (dataset_options ...)
        "dataset": dataset,
        "data_dir": None if data_dir is None else str(data_dir),
        "download": download,
        "celltype": celltype,
        "strategy": strategy,
        "num_search": num_search,
        "batch_size": batch_size,
        "repeat": repeat,
        "timesteps": timesteps,
        "score": score,
        "seed": seed,
        "device": device,
        "top_k": top_k,
        "population": population,
        "tournament": tournament,
        "max_sops": max_sops,
        "max_params": max_params,
    }
    with warnings.catch_warnings(record=True) as caught:  # a renamed --score: one line, not Python's two
        warnings.simplefilter("always", FutureWarning)
        if objectives is not None:
            chosen = parse_objectives(objectives)
            options["objectives"] = tuple(o.name for o in chosen)
            named = [o.name for o in chosen if o.is_score]
            if named and not _given(ctx, "score"):  # --objectives hamming,sops: the search's score is hamming
                options["score"] = named[0]
        if resume is not None:
            if run_dir is not None and Path(run_dir) != resume:
                raise ConfigError("--resume continues the run in its own directory: leave out --run-dir")
            if config_file is not None:
                raise ConfigError("--resume continues a search with its own settings: leave out --config")
            given = {k: v for k, v in options.items() if _given(ctx, k)}
            config, path = resume_config(resume, **given), resume
        else:
            config, path = SearchConfig(**options), run_dir or default_run_dir("search")
    for message in dict.fromkeys(str(w.message) for w in caught):
        typer.echo(f"snasnet: warning: {message}", err=True)
    config.validate()

    console = closed_pipe.console(stderr=True)
    progress = None if quiet else SearchProgress(console)
    listeners = [] if progress is None else [progress]
    if tensorboard or (resume is not None and (resume / "tb").is_dir()):  # a logged search goes on logging
        from snasnet.core.tensorboard import TensorBoardLog

        listeners.append(TensorBoardLog(path))
    sigterm_as_interrupt()
    closed_pipe.on_close(closed_pipe.stop_as_after_ctrl_c)  # `| head`: every candidate scored is kept, resumable
    try:
        result = run_search(config, path, resume=resume is not None, on_event=_all(listeners))
    except KeyboardInterrupt:
        if progress is not None:
            progress.stop()
        # under torchrun, rank 0 reports: the search ran in its directory (the others' default one differs)
        if os.environ.get("RANK", "0") == "0":
            console.print(
                f"search interrupted: continue it with [bold]snasnet search --resume {path}[/bold]", soft_wrap=True
            )
        raise typer.Exit(130) from None
    if result is None:  # a rank other than 0 of a torchrun job: rank 0 reports
        return
    out = closed_pipe.console()
    out.print(top_table(result, config.top_k))
    if result.chosen is not None:
        out.print(front_table(result, config.objective_names))
        out.print(f"chosen: #{result.chosen.index} {result.chosen.arch} ({result.rule})", soft_wrap=True)
    out.print(f"best architecture: {result.best_arch_file}    run directory: {result.run_dir}", soft_wrap=True)


def _given(ctx: typer.Context, name: str) -> bool:
    """Whether the user set this option (on the command line, by environment or in the --config file), not its
    default."""
    return on_command_line(ctx, name) or from_file(ctx, name)


def _all(listeners: list):  # noqa: ANN202
    """One ``on_event`` that tells each listener, or None for none."""
    if not listeners:
        return None
    return lambda event: [listener(event) for listener in listeners]

"""`snasnet tui`: the live dashboard over run directories (it never imports torch: jobs run as processes)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def tui(
    run_dir: Annotated[
        Path | None,
        typer.Argument(help="A run directory to follow, or a directory of runs (default runs/).", show_default=False),
    ] = None,
    interval: Annotated[float, typer.Option("--interval", help="Seconds between reads of the run directories.")] = 0.5,
) -> None:
    """Live dashboard: follow searches and trainings (here or synced from a GPU server), start and cancel jobs."""
    if run_dir is not None and not run_dir.is_dir():
        raise typer.BadParameter(f"{run_dir} is not a directory: give a run directory or a directory of runs")
    if interval <= 0:
        raise typer.BadParameter("must be more than 0", param_hint="--interval")
    from snasnet_cli.tui.app import make_app  # textual is loaded only for this command

    make_app(run_dir if run_dir is not None else Path("runs"), poll_interval=interval).run()

"""`snasnet tui`: the live dashboard over run directories (it never imports torch: jobs run as processes)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from snasnet.core.errors import ConfigError

MAX_INTERVAL = 3600.0  # seconds between reads of the runs: an hour


def tui(
    run_dir: Annotated[
        Path | None,
        typer.Argument(help="A run directory to follow, or a directory of runs (default runs/).", show_default=False),
    ] = None,
    interval: Annotated[
        float,
        typer.Option("--interval", help=f"Seconds between reads of the run directories (at most {MAX_INTERVAL:g})."),
    ] = 0.5,
) -> None:
    """Live dashboard: follow searches and trainings (here or synced from a GPU server), start and cancel jobs."""
    if run_dir is not None and not run_dir.is_dir():
        raise typer.BadParameter(f"{run_dir} is not a directory: give a run directory or a directory of runs")
    if not 0 < interval <= MAX_INTERVAL:  # (nan fails every comparison: it hung the dashboard; inf never polled)
        raise typer.BadParameter(f"must be more than 0 and at most {MAX_INTERVAL:g} seconds", param_hint="--interval")
    if not (sys.stdin.isatty() and sys.stdout.isatty()):  # textual would write escape codes into a file until killed
        raise ConfigError(
            "snasnet tui needs a terminal (its input or output is a file or a pipe): run it in one, or follow a run "
            "without it: tail -f RUN_DIR/events.jsonl"
        )
    from snasnet_cli.tui.app import make_app  # textual is loaded only for this command

    make_app(run_dir if run_dir is not None else Path("runs"), poll_interval=interval).run()

"""`snasnet runs export-tb DIR`: what is done with run directories after their jobs (here, or synced from a
server): TensorBoard files from a run's events."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(
    name="runs", help="Work with run directories: TensorBoard files from their events.", no_args_is_help=True
)


@app.command("export-tb")
def export_tb(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories (each holds events.jsonl).")],
    output: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Folder for the TensorBoard files (one run only; default RUN_DIR/tb)."),
    ] = None,
) -> None:
    """Write TensorBoard files from each run's events.jsonl (RUN_DIR/tb, replaced); then
    [bold]tensorboard --logdir runs[/bold]."""
    from snasnet.core.errors import ConfigError
    from snasnet.core.tensorboard import export_tensorboard

    if output is not None and len(run_dirs) > 1:
        raise ConfigError(f"-o names one folder: give one run directory with it (got {len(run_dirs)})")
    for run_dir in run_dirs:
        path, count = export_tensorboard(run_dir, output)
        typer.echo(f"{run_dir}: {count} records -> {path}")

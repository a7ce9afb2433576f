"""Commands that later work fills in: each says so and exits 1, whatever its options."""

from __future__ import annotations

import typer

PENDING = {
    "search": "Training-free architecture search (SAHD score at initialisation).",
    "train": "Train an architecture with surrogate gradients.",
    "eval": "Evaluate a checkpoint: accuracy and spike statistics.",
    "export": "Export a checkpoint: ONNX unrolled over timesteps, energy report, NIR.",
    "tui": "Live terminal dashboard that drives jobs and follows run directories.",
}


def _make(name: str):
    def command(ctx: typer.Context) -> None:
        typer.echo(f"snasnet {name}: not available yet in this version (planned); nothing was run.", err=True)
        raise typer.Exit(1)

    command.__doc__ = PENDING[name] + " [dim](not available yet)[/dim]"
    return command


def register(app: typer.Typer) -> None:
    for name in PENDING:
        app.command(
            name=name,
            context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        )(_make(name))

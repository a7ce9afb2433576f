"""Placeholders for commands that later work fills in: each says so and exits 1, whatever its options."""

from __future__ import annotations

from collections.abc import Callable

import typer

#: context settings that let a placeholder accept any options
ANY_ARGS = {"allow_extra_args": True, "ignore_unknown_options": True}


def not_yet(name: str, summary: str) -> Callable[[typer.Context], None]:
    def command(ctx: typer.Context) -> None:
        typer.echo(f"snasnet {name}: not available yet in this version (planned); nothing was run.", err=True)
        raise typer.Exit(1)

    command.__doc__ = summary + " [dim](not available yet)[/dim]"
    return command

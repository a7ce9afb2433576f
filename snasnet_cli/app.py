"""The `snasnet` Typer application: registers the commands and turns user errors into one line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from snasnet import __version__
from snasnet.errors import SnasnetError
from snasnet_cli.commands import arch, evaluate, export, search, train, tui

app = typer.Typer(
    name="snasnet",
    help="Search, train, evaluate and export SNASNet spiking neural networks (Kim et al., ECCV 2022).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"snasnet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Search, train, evaluate and export SNASNet spiking neural networks (Kim et al., ECCV 2022)."""


# One module per command. A command module exposes the command function (and CONTEXT, its Typer context
# settings), or a Typer sub-application named ``app`` for a command with subcommands (export).
app.command(name="arch")(arch.arch)
for name, module in (("search", search), ("train", train), ("eval", evaluate), ("export", export), ("tui", tui)):
    sub = getattr(module, "app", None)
    if isinstance(sub, typer.Typer):
        app.add_typer(sub, name=name)
    else:
        command = getattr(module, "evaluate" if name == "eval" else name)
        app.command(name=name, context_settings=getattr(module, "CONTEXT", None))(command)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `snasnet` console script and of `python -m snasnet_cli`."""
    try:
        app(args=argv, prog_name="snasnet")
    except SnasnetError as exc:
        # A user's mistake: one line that says what was wrong and what to do, no traceback.
        print(f"snasnet: error: {exc}", file=sys.stderr)
        sys.exit(2)

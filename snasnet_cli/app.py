"""The `snasnet` Typer application: registers the commands and turns user errors into one line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from snasnet import __version__
from snasnet.core.errors import SnasnetError
from snasnet_cli.commands import arch, evaluate, export, search, train, tui
from snasnet_cli.options import ChoicesGroup

app = typer.Typer(
    name="snasnet",
    help="Search, train, evaluate and export SNASNet spiking neural networks (Kim et al., ECCV 2022).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    add_completion=False,
    cls=ChoicesGroup,  # help texts list the registries' names
    context_settings={"help_option_names": ["-h", "--help"]},  # every command's, too
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


# One module per command; export has subcommands (onnx, energy, nir).
app.command(name="arch")(arch.arch)
app.command(name="search")(search.search)
app.command(name="train", context_settings=train.CONTEXT)(train.train)
app.command(name="eval", context_settings=evaluate.CONTEXT)(evaluate.evaluate)
app.add_typer(export.app, name="export")
app.command(name="tui")(tui.tui)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `snasnet` console script and of `python -m snasnet_cli`."""
    try:
        app(args=argv, prog_name="snasnet")
    except SnasnetError as exc:
        # A user's mistake: one line that says what was wrong and what to do, no traceback.
        print(f"snasnet: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:
        # The machine's, not the user's command line: a file system that refused (full, read-only, ...).
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"snasnet: error: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(1)

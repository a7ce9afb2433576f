"""The `snasnet` Typer application: registers the commands and turns user errors into one line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from snasnet import __version__
from snasnet.core.errors import SnasnetError
from snasnet_cli import closed_pipe
from snasnet_cli.commands import arch, env, evaluate, export, models, runs, search, train, tui
from snasnet_cli.options import ChoicesGroup
from snasnet_cli.stop_signals import exit_interrupted, received, restore, stop_on_signals

app = typer.Typer(
    name="snasnet",
    help="Search, train, evaluate and export SNASNet spiking neural networks (Kim et al., ECCV 2022).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_show_locals=False,
    add_completion=True,  # --install-completion / --show-completion: Typer's own, for bash, zsh, fish, PowerShell
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


# One module per command; export has subcommands (onnx, energy, nir), runs has export-tb.
app.command(name="arch")(arch.arch)
app.command(name="search")(search.search)
app.command(name="train", context_settings=train.CONTEXT)(train.train)
app.command(name="eval", context_settings=evaluate.CONTEXT)(evaluate.evaluate)
app.add_typer(export.app, name="export")
app.command(name="tui")(tui.tui)
app.command(name="models")(models.models)
app.add_typer(runs.app, name="runs")
app.command(name="env")(env.env)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the `snasnet` console script and of `python -m snasnet_cli`."""
    previous = stop_on_signals()
    try:
        app(args=argv, prog_name="snasnet")
    except SnasnetError as exc:
        # A user's mistake: one line that says what was wrong and what to do, no traceback.
        _say(f"snasnet: error: {exc}")
        sys.exit(2)
    except BrokenPipeError:
        closed_pipe.close(sys.stdout)  # (typer.echo's output lost its reader: nothing else to say)
        closed_pipe.close(sys.stderr)
        sys.exit(closed_pipe.EXIT_STATUS)
    except OSError as exc:
        # The machine's, not the user's command line: a file system that refused (full, read-only, ...).
        where = f"{exc.filename}: " if exc.filename else ""
        _say(f"snasnet: error: {where}{exc.strerror or exc}")
        sys.exit(1)
    except KeyboardInterrupt:  # a stop that typer did not see
        exit_interrupted()
    except SystemExit as exc:
        if exc.code == 130 and isinstance(getattr(exc.__context__, "__cause__", None), KeyboardInterrupt):
            exit_interrupted()  # typer turned a stop that no command reported (one while it started) into 130, silently
        if closed_pipe.closed() and exc.code in (0, 130):
            sys.exit(closed_pipe.EXIT_STATUS)  # what was printed did not all arrive (as `git log | head`)
        raise
    except Exception:
        if not received():
            raise
        exit_interrupted()  # a stop that cut an import short can surface as another error (a RecursionError was seen)
    finally:
        restore(previous)


def _say(line: str) -> None:
    """A line on stderr, unless no one reads it any more."""
    try:
        print(line, file=sys.stderr, flush=True)
    except BrokenPipeError:
        closed_pipe.close(sys.stderr)

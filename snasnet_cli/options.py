"""Options shared by the job commands (Typer ``Annotated`` aliases), so they read the same everywhere, and the
choices their help texts list, taken from the library's registries.

A help text names its registry with ``choices("module:REGISTRY")``; ``ChoicesGroup`` writes the registry's
names in when a command is about to run or show its help. It also tidies what Typer's help shows: a flag takes no
value, so no type is printed beside it, and a docstring's line breaks inside a paragraph do not cut the text at
80 columns. Reading them any earlier would load torch (most
registries' modules need it) for every command, the dashboard's ``snasnet tui`` included.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

_CHOICES = re.compile(r"\{choices of ([\w.]+):(\w+)\}")


def choices(registry: str) -> str:
    """Stands for the names registered in ``registry`` (``"module:NAME"``) in a help text."""
    return f"{{choices of {registry}}}"


def registry_names(registry: str) -> list[str]:
    """The names registered in ``registry`` (``"module:NAME"``), in registration order."""
    module, name = registry.split(":")
    return getattr(importlib.import_module(module), name).names()


def fill_choices(text: str) -> str:
    """``text`` with each ``choices(...)`` replaced by its registry's names."""
    return _CHOICES.sub(lambda m: ", ".join(registry_names(f"{m[1]}:{m[2]}")), text)


class ChoicesGroup(TyperGroup):
    """A command group whose commands' help texts list the registries' names as they are when it runs."""

    def get_command(self, ctx: typer.Context, cmd_name: str):  # noqa: ANN201 (click's Command)
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            _fill_command(command, ctx)
        return command

    def get_params(self, ctx: typer.Context) -> list:
        params = super().get_params(ctx)
        _flags_take_no_value(params)  # --version, --help
        return params


def _fill_command(command, ctx: typer.Context) -> None:  # noqa: ANN001
    for param in command.params:
        help_text = getattr(param, "help", None)
        if help_text and _CHOICES.search(help_text):
            param.help = fill_choices(help_text)
    _flags_take_no_value(command.get_params(ctx))  # the help option included
    if command.help:  # Typer's rich help keeps a docstring's line breaks: one paragraph, one line
        command.help = _LINE_BREAK.sub(" ", command.help)
    for sub in getattr(command, "commands", {}).values():  # a group's commands (export onnx|energy|nir)
        _fill_command(sub, ctx)


_LINE_BREAK = re.compile(r"(?<!\n)\n(?![\n ])")


def _flags_take_no_value(params: list) -> None:
    """No ``<bool>`` beside ``--quiet`` or ``--help``: Typer prints the type of every option, flags included."""
    for param in params:
        if getattr(param, "is_flag", False) and not getattr(param, "count", False):
            param.metavar = ""


RunDirOption = Annotated[
    Path | None, typer.Option("--run-dir", help="Run directory to write (default runs/<job>-<YYYYmmdd-HHMMSS>).")
]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output.")]
DeviceOption = Annotated[str, typer.Option("--device", help="auto (CUDA if present), cpu, cuda or cuda:N.")]
SeedOption = Annotated[int, typer.Option("--seed", help="Random seed: the same seed gives the same result.")]
DATASET_REGISTRY = "snasnet.data.datasets:DATASETS"
DATASETS = choices(DATASET_REGISTRY)
DatasetOption = Annotated[str, typer.Option("--dataset", help=f"The dataset: {DATASETS}.")]
DataDirOption = Annotated[Path | None, typer.Option("--data-dir", help="Where the dataset lies (or is downloaded to).")]
CelltypeOption = Annotated[str, typer.Option("--celltype", help="forward or backward.")]
#: --timesteps of the jobs that build a network for a dataset (train, search)
DATASET_TIMESTEPS_HELP = "Timesteps T \\[default: the dataset's: an event dataset's frames per sample, else 5]."
PRECISIONS = choices("snasnet.train.precision:PRECISIONS")
MODELS = choices("snasnet.network.zoo:MODELS")
TensorBoardOption = Annotated[
    bool, typer.Option("--tensorboard", help="Also write TensorBoard files in RUN_DIR/tb (tensorboard --logdir runs).")
]

"""``--config FILE.yaml``: a command's settings from a YAML file (``snasnet.core.config_file``), under its flags.

The file's keys are the command's own options, by parameter name or long flag (``batch_size`` or
``batch-size`` for ``--batch-size``), and the fields of the library configuration the command fills (its
"targets": ``TrainConfig``, ``SearchConfig``, ``EvalConfig``), which include settings without a flag
(``dataset_options``, ``eval_batch_size``). A run's ``config.yaml`` holds exactly those fields, so it reads back.

Options from the file become the command's defaults (Click's ``default_map``): a flag on the command line wins,
and an option added to a command later works in files with no change here. The target fields without a flag
reach the command through ``config_extras(ctx)``. A key that is neither is refused in one line that names it and
the valid ones; ``null`` means "the default".
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Annotated

import typer

_EXTRAS = "snasnet.config_extras"
#: parameters a file does not set: the file itself, a run to continue (it keeps its own settings), help
_NOT_SETTINGS = {"config_file", "resume", "help"}
HELP = "A YAML file of settings (keys: the options' names, e.g. a run's config.yaml); flags override it."


def config_option(*targets: str, fixed: dict[str, object] | None = None):  # noqa: ANN201 (a typing.Annotated)
    """The ``--config`` option of a command whose settings fill ``targets`` (``"module:Name"`` of a dataclass,
    imported when a file is read). ``fixed``: keys a file may hold only with these values (an export's
    ``format``: the file of an ONNX export is refused by ``export nir``)."""

    def load(ctx: typer.Context, value: Path | None) -> Path | None:
        if value is not None:
            apply_config_file(ctx, value, targets, fixed or {})
        return value

    return Annotated[Path | None, typer.Option("--config", is_eager=True, callback=load, help=HELP)]


def apply_config_file(ctx: typer.Context, path: Path, targets: tuple[str, ...], fixed: dict[str, object]) -> None:
    """Read ``path`` into ``ctx``: options as defaults (``default_map``), other target fields as extras."""
    from snasnet.core.config_file import check_keys, read_config_file
    from snasnet.core.errors import ConfigError

    values = read_config_file(path)
    for key, wanted in fixed.items():
        got = values.pop(key, wanted)
        if got != wanted:
            raise ConfigError(f"{path} holds the settings of {key} {got!r}, not {wanted!r}: give it to that command")
    options = _options_by_key(ctx)
    fields = set().union(*(_target_fields(t) for t in targets)) if targets else set()
    check_keys(values, {*options, *fields, *fixed}, path)
    defaults, extras = dict(ctx.default_map or {}), {}
    for key, value in values.items():
        if value is None:  # the default
            continue
        if key in options:
            param = options[key]
            defaults[param.name] = _option_value(param, value)
        else:
            extras[key] = value
    ctx.default_map = defaults
    ctx.meta[_EXTRAS] = extras


def config_extras(ctx: typer.Context) -> dict:
    """The settings the ``--config`` file gave that are not options of the command (empty without a file)."""
    return dict(ctx.meta.get(_EXTRAS, {}))


def from_file(ctx: typer.Context, name: str) -> bool:
    """Whether the value of option ``name`` came from the ``--config`` file."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "DEFAULT_MAP"


def on_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether the user set option ``name`` on the command line (or by environment), not by file or default."""
    source = ctx.get_parameter_source(name)
    return source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT")


#: the options that name a network's cell, and the settings that go with the cell
CELL_SOURCES = ("arch", "arch_file", "from_search", "model")
CELL_SETTINGS = (*CELL_SOURCES, "celltype", "second_avgpooling")


def one_source(
    ctx: typer.Context, values: dict, sources: tuple = CELL_SOURCES, settings: tuple = CELL_SETTINGS
) -> dict:
    """``values`` (option name -> value) with the ``--config`` file's ``settings`` left out (None) when one of
    ``sources`` is on the command line: a cell named there replaces the file's, and the settings that belong to
    the file's cell (its cell type, its pooling) go with it."""
    if not any(on_command_line(ctx, name) for name in sources):
        return values
    return {k: None if k in settings and from_file(ctx, k) else v for k, v in values.items()}


def merged(extras: dict, given: dict) -> dict:
    """``extras`` (from the file) under ``given`` (the command's own values; None: not given); a dict in both
    (``dataset_options``) is merged key by key, the command's keys winning."""
    out = dict(extras)
    for key, value in given.items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _options_by_key(ctx: typer.Context) -> dict:
    """The command's parameters by every key that names them: the parameter's name and each long flag."""
    keys = {}
    for param in ctx.command.params:
        if param.name in _NOT_SETTINGS or param.name is None:
            continue
        keys[param.name] = param
        for flag in param.opts:  # not the secondary ``--no-x``, which means the opposite
            if flag.startswith("--"):
                keys.setdefault(flag[2:].replace("-", "_"), param)
    return keys


def _option_value(param, value: object) -> object:  # noqa: ANN001 (a Click parameter)
    """A YAML value as the option takes it: a list for a comma-separated option is joined (``objectives:
    [sahd, sops]`` is ``--objectives sahd,sops``); everything else goes through the option's own type."""
    if isinstance(value, (list, tuple)) and not getattr(param, "multiple", False) and param.nargs == 1:
        return ",".join(str(v) for v in value)
    return value


def _target_fields(target: str) -> set[str]:
    module, name = target.split(":")
    return {f.name for f in dataclasses.fields(getattr(importlib.import_module(module), name))}

"""Configuration files: a job's settings as YAML, read with ``--config FILE.yaml`` and written by every run as
``RUN_DIR/config.yaml`` (the resolved configuration, the one ``run.json`` holds), so that

    snasnet train --config runs/train-<time>/config.yaml

repeats a run. The keys are the job configuration's field names (``TrainConfig``, ``SearchConfig``,
``EvalConfig``, an export's options), which are also the command line's option names (``batch_size`` or
``batch-size`` for ``--batch-size``). From Python: ``train_config(**read_config_file(path))``.

PyYAML's ``safe_load`` reads the file (no tags, no code); ``safe_dump`` writes it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from snasnet.core.atomic import write_text
from snasnet.core.errors import ConfigError

CONFIG_YAML = "config.yaml"


def read_config_file(path: str | os.PathLike) -> dict:
    """The settings in a YAML file, as a dict keyed by option name (``-`` read as ``_``), or one ConfigError
    line: a file that is missing or unreadable, YAML that does not parse (with its line), a file that is not a
    mapping of names to values."""
    import yaml  # here: `snasnet --help` and the dashboard need no YAML

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory: give --config a YAML file, e.g. {path / CONFIG_YAML}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {getattr(exc, 'strerror', None) or exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{path} is not valid YAML{where}: {problem}") from None
    if data is None:  # an empty file: no settings
        return {}
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        raise ConfigError(f"{path} must hold option names and values (key: value lines), not a {type(data).__name__}")
    return {key.replace("-", "_"): value for key, value in data.items()}


def check_keys(values: Mapping[str, object], valid: Iterable[str], source: str | os.PathLike) -> None:
    """One ConfigError line for the first key of ``values`` that is not in ``valid``, naming the valid ones."""
    valid = set(valid)
    unknown = [key for key in values if key not in valid]
    if unknown:
        more = f" (and {', '.join(unknown[1:])})" if len(unknown) > 1 else ""
        raise ConfigError(f"unknown key {unknown[0]!r}{more} in {source}: valid keys are {', '.join(sorted(valid))}")


def write_config_file(path: str | os.PathLike, config: Mapping[str, object], job: str | None = None) -> Path:
    """Write ``config`` (plain data: JSON-like values) as YAML, atomically, with a comment that says how to use
    it again. Keys keep their order."""
    import yaml

    command = {"export": "export FORMAT"}.get(job or "", job or "JOB")
    header = (
        f"# The resolved configuration of this run (snasnet {job or ''} job). Repeat the run with\n"
        f"#   snasnet {command} --config {Path(path).as_posix()}\n"
        "# and change any setting with its flag (flags override the file).\n"
    )
    body = yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False, allow_unicode=True)
    return write_text(path, header + body)

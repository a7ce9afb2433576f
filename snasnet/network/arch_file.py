"""A search's product: ``best_arch.json`` in its run directory, the cell ``snasnet train --arch-file`` and
``--from-search`` read (``{"arch": "0302 0030 3003 0000", "celltype": ..., "score": ..., "dataset": ...}``)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from snasnet.core.errors import ConfigError
from snasnet.network.arch import Architecture

BEST_ARCH = "best_arch.json"  # what a search writes in its run directory


def read_arch_file(path: str | os.PathLike) -> tuple[Architecture, dict]:
    """The cell in a JSON file ``{"arch": "0302 0030 3003 0000", "celltype": ...}`` (a search's
    ``best_arch.json``; a search run directory means the one in it), and everything else the file says."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST_ARCH
        if not path.is_file():
            raise ConfigError(f"no {BEST_ARCH} in {path.parent}: has its search finished?")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"architecture file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a JSON architecture file ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected {{"arch": "0302 0030 3003 0000", "celltype": ...}}')
    return Architecture.from_dict(data), data

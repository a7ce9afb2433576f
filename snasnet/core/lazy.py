"""A package's names imported from their modules on first use (PEP 562 ``__getattr__``), so that importing
the package, or a light module inside it, loads nothing heavy: ``import snasnet.network.arch`` and
``import snasnet.train.optimizers`` stay free of torch although ``snasnet`` and ``snasnet.train`` offer
``build_model`` and ``fit``. ``lazy_dir`` lists those names too, so that ``dir()``, ``help()`` and editors see
the package's API before anything has been imported."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping


def lazy_exports(package: str, exports: Mapping[str, str]) -> Callable[[str], object]:
    """The ``__getattr__`` of ``package``: ``name`` is imported from the module ``exports[name]`` when it is
    first read, then kept in the package as a plain attribute."""

    def __getattr__(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(exports[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__


def lazy_dir(package: str, exports: Mapping[str, str]) -> Callable[[], list[str]]:
    """The ``__dir__`` of ``package``: its attributes and the names ``exports`` offers (which ``help()`` and
    ``inspect.getmembers`` then import: ``dir`` alone imports nothing)."""

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __dir__

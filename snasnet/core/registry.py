"""Named variants of one kind (presets, datasets, scores, search strategies, energy profiles): a registry that
a decorator or ``add`` fills, that refuses a second entry under a name, and that answers an unknown name with
the list of known ones (in registration order)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from snasnet.core.errors import ConfigError, SnasnetError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, error: type[SnasnetError] = ConfigError) -> None:
        self.kind = kind
        self.error = error  # what an unknown name raises: a user's mistake, one line
        self._entries: dict[str, T] = {}

    def add(self, name: str, entry: T) -> T:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._entries[name] = entry
        return entry

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@registry.register("name")``."""
        return lambda entry: self.add(name, entry)

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise self.error(f"unknown {self.kind} {name!r}: choose one of {', '.join(self.names())}") from None

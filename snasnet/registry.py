"""Named variants of one kind (scores, search strategies ...): a registry that a decorator fills, that
refuses a second entry under a name, and that answers an unknown name with the list of known ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from snasnet.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@registry.register("name")``."""

        def register(entry: T) -> T:
            if name in self._entries:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = entry
            return entry

        return register

    def names(self) -> list[str]:
        return sorted(self._entries)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except KeyError:
            raise ConfigError(f"unknown {self.kind} {name!r}: choose one of {', '.join(self.names())}") from None

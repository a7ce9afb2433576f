"""Errors a user can cause and fix. Front ends print their message as one line, without a traceback."""


class SnasnetError(Exception):
    """Base class: the message says what was wrong and what to do."""


class ArchitectureError(SnasnetError, ValueError):
    """A connection matrix that is malformed or does not fit its cell type."""


class CheckpointError(SnasnetError):
    """A file that is not a usable checkpoint, or one for another network."""


class ConfigError(SnasnetError, ValueError):
    """An unknown preset, a bad size, or options that do not fit together."""


class DataError(SnasnetError):
    """A dataset that is unknown, missing or malformed: the message says where it was looked for."""

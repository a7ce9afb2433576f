"""Errors a user can cause and fix. Front ends print their message as one line, without a traceback."""

import re


class SnasnetError(Exception):
    """Base class: the message says what was wrong and what to do."""

    def __init__(self, *args: object) -> None:
        if len(args) == 1 and isinstance(args[0], str) and _WORKER.match(args[0]):
            args = (_raised_message(args[0]),)
        super().__init__(*args)


#: how torch's DataLoader re-raises an error of a worker process: ``type(exc)(message)`` with the worker's whole
#: traceback as the message, whose last line holds the original one ("snasnet.core.errors.DataError: ...")
_WORKER = re.compile(r"Caught \w+ in DataLoader worker process \d+\.\nOriginal Traceback")


def _raised_message(text: str) -> str:
    last = text.rstrip().splitlines()[-1]
    kind, sep, message = last.partition(": ")
    return message if sep and " " not in kind else last


class ArchitectureError(SnasnetError, ValueError):
    """A connection matrix that is malformed or does not fit its cell type."""


class CheckpointError(SnasnetError):
    """A file that is not a usable checkpoint, or one for another network."""


class ConfigError(SnasnetError, ValueError):
    """An unknown preset, a bad size, or options that do not fit together."""


class DataError(SnasnetError):
    """A dataset that is unknown, missing or malformed: the message says where it was looked for."""


class StorageError(SnasnetError, OSError):
    """A file or directory that cannot be written: a full disk, a read-only file system, a path that is a file
    where a directory is needed (or the reverse); the message names the path and the system's reason."""


class RunInUse(SnasnetError):
    """A run directory another live process is writing (``snasnet.core.run_lock``)."""


class Diverged(SnasnetError):
    """Training's loss (or its weights) became NaN or infinite; the last good checkpoint is kept."""

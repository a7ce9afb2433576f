"""Errors a user can cause and fix. Front ends print their message as one line, without a traceback.

Also the sane bounds of the numbers a user gives (``check_at_most``): a value beyond them is one line (ConfigError),
before any work. Each bound is stated once here and checked where its option is defined (the jobs' configurations,
the network's T). They lie far beyond what a run needs and far below what hangs a machine or overflows a C integer:
before, ``--batch-size 100000000000000000000`` reached ``islice`` as more than sys.maxsize, ``--workers`` that
large started forking, ``--timesteps`` that large built a network that never finished a step.
"""

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


# --- bounds of the numbers a user gives ---------------------------------------------------------------------
MAX_BATCH_SIZE = 2**20  # images per batch (1,048,576)
MAX_TIMESTEPS = 10_000  # steps per sample: event data is binned into at most a few hundred frames
MAX_WORKERS = 256  # DataLoader worker processes
MAX_SEED = 2**64 - 1  # what torch's generators take


def check_at_most(name: str, value: int | float | None, most: int | float) -> None:
    """A ConfigError for ``value`` above ``most`` (None: the default, not checked)."""
    if value is not None and value > most:
        raise ConfigError(f"{name} must be at most {most:,} (got {value:,})")


def check_seed(name: str, value: int) -> None:
    if not 0 <= value <= MAX_SEED:
        raise ConfigError(f"{name} must be from 0 to 2**64 - 1 (got {value:,})")

"""Sane bounds for the numbers a user gives: a value beyond them is one line (ConfigError), before any work.

Each bound is stated once here and checked where its option is defined (the jobs' configurations, the network's
T). They lie far beyond what a run needs and far below what hangs a machine or overflows a C integer: before,
``--batch-size 100000000000000000000`` reached ``islice`` as more than sys.maxsize, ``--workers`` that large
started forking, ``--timesteps`` that large built a network that never finished a step.
"""

from __future__ import annotations

from snasnet.core.errors import ConfigError

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

"""Output to a closed pipe costs no work (docs/reliability.md).

``snasnet train ... | head -1``, a pager quit early, a ``tee`` that died: the reader of stdout or stderr is gone.
rich's Console then points stdout at /dev/null and raises SystemExit(1) from wherever it was printing, e.g. from a
run's listener before the epoch's checkpoint was saved, so the epoch was lost and ``run.json`` left ``running``.
The consoles made here (``console()``, rich's documented ``on_broken_pipe`` hook) instead point the closed stream at
/dev/null, so that later writes to it go nowhere without an error, and run once the action the command chose with
``on_close``: ``stop_as_after_ctrl_c`` for train and search (they checkpoint at their next safe point, record
``cancelled`` and can be resumed); none for eval and export, which go on quietly to their end (a few seconds).
``main`` then exits with ``EXIT_STATUS`` (128 + SIGPIPE, what a shell reports for ``git log | head``).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable
from typing import IO

from rich.console import Console

EXIT_STATUS = 128 + signal.SIGPIPE  # 141

_state: dict = {"closed": False, "action": None}


def on_close(action: Callable[[], None] | None) -> None:
    """What to do, once, when an output stream of this command loses its reader."""
    _state["action"] = action


def stop_as_after_ctrl_c() -> None:
    """The action of jobs that stop cleanly at a safe point: what Ctrl-C does (``GracefulStop``, or
    KeyboardInterrupt where the job has no safe point to wait for)."""
    signal.raise_signal(signal.SIGINT)


def closed() -> bool:
    """Whether an output stream of this process lost its reader."""
    return _state["closed"]


def close(stream: IO | None) -> None:
    """``stream`` lost its reader: point its descriptor at /dev/null; run the command's action the first time."""
    try:
        fd = stream.fileno() if stream is not None else None
    except (AttributeError, OSError, ValueError):  # not a file (a StringIO in tests)
        fd = None
    if fd is not None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    first, _state["closed"] = not _state["closed"], True
    if first and _state["action"] is not None:
        _state["action"]()


class PipeConsole(Console):
    """A rich Console that survives its pipe closing (see the module's text)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        close(self.file)


def console(**options: object) -> Console:
    """``rich.console.Console(**options)`` that survives its pipe closing."""
    return PipeConsole(**options)

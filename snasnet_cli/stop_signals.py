"""SIGINT and SIGTERM from the command's first instant (docs/reliability.md).

The jobs install their own handlers once they run (a training's ``GracefulStop``, a search's and an evaluation's
``sigterm_as_interrupt``), but the command spends its first seconds importing torch and loading data. Before,
Ctrl-C then could end in a long traceback and SIGTERM killed the process without a word (status -15). From the
start, both now raise KeyboardInterrupt, which the command reports in one line with status 130 (``app.main``).
Only the standard library is imported here: ``__main__`` installs it before anything heavy.
"""

from __future__ import annotations

import os
import signal
import sys

SIGNALS = (signal.SIGINT, signal.SIGTERM)
_received: list[int] = []
_hooks: list = []


def stop_on_signals() -> dict[int, object]:
    """Make SIGINT and SIGTERM raise KeyboardInterrupt; a signal that is ignored (``nohup``, a shell's background
    job) stays ignored. Returns the handlers that were there."""
    previous = {}
    if sys.unraisablehook is not _unraisable:
        _hooks.append(sys.unraisablehook)
        sys.unraisablehook = _unraisable
    for sig in SIGNALS:
        handler = signal.getsignal(sig)
        if handler is not signal.SIG_IGN:
            previous[sig] = signal.signal(sig, _interrupt)
    return previous


def restore(previous: dict[int, object]) -> None:
    """Put back what ``stop_on_signals`` replaced (``main`` called from Python, e.g. by tests)."""
    for sig, handler in previous.items():
        signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
    if sys.unraisablehook is _unraisable:
        sys.unraisablehook = _hooks.pop()
    _received.clear()


def received() -> bool:
    """Whether a stop signal reached these handlers (not a job's own)."""
    return bool(_received)


def _interrupt(signum: int, frame: object) -> None:
    _received.append(signum)
    raise KeyboardInterrupt


def _unraisable(unraisable: object) -> None:
    """Python swallows an exception raised where it cannot propagate (a weakref callback of the import system, a
    ``__del__``) and prints "Exception ignored": a stop that landed there would be lost and the command go on.
    Send the signal again; it is taken at the next instruction, outside that callback."""
    if isinstance(getattr(unraisable, "exc_value", None), KeyboardInterrupt) and _received:
        os.kill(os.getpid(), _received[-1])
        return
    _hooks[-1](unraisable)


def exit_interrupted() -> None:
    """Say so in one line and end with status 130. ``os._exit``, after the stack has unwound: a KeyboardInterrupt
    that went through code run by ``exec`` (dataclasses and typing helpers do that while a module is imported)
    makes Python end by SIGINT (status -2) even after it was handled."""
    try:
        print("snasnet: interrupted", file=sys.stderr, flush=True)
        sys.stdout.flush()
    except OSError:  # a closed pipe: nothing to say it to
        pass
    os._exit(130)

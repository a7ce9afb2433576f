"""Stopping a job cleanly on a signal.

``GracefulStop`` (training): the first Ctrl-C or SIGTERM asks the job to stop at its next safe point (after
the current step, with a checkpoint); a second one, a second or more later, stops it at once.
(One action often delivers a signal twice: `timeout` signals the command and then its process group.)

    with GracefulStop() as stop:
        for batch in loader:
            step(batch)
            if stop.requested:
                save(); raise KeyboardInterrupt

``sigterm_as_interrupt`` (search): SIGTERM raises KeyboardInterrupt at once, like Ctrl-C.

``signals_deferred`` (a commit of several files): SIGINT and SIGTERM wait until the block is done.

``ignore_stop_signals`` (every DataLoader's ``worker_init_fn``): `timeout`, Slurm, systemd and Kubernetes
signal the whole process group. A worker that died of it would make the DataLoader raise "worker killed by
signal" in the main process at whatever line it was running (from its SIGCHLD handler), so the job failed
instead of stopping. Workers let the request pass; the main process stops at its safe point and shuts them down.

An exception raised from a signal handler can land anywhere, e.g. between two parameter updates of an
optimizer step, so the handler only sets a flag that the job checks where its state is whole.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class GracefulStop:
    """Within ``with``: SIGINT and SIGTERM set ``requested``; a signal ``FORCE_AFTER`` seconds or more after
    the first raises KeyboardInterrupt. Outside the main thread (where Python cannot install handlers) it only
    holds the flag."""

    FORCE_AFTER = 1.0  # seconds: closer signals are one request delivered twice

    def __init__(self, at_once: Callable[[], bool] | None = None) -> None:
        """``at_once()`` true when a first signal arrives: there is no safe point to wait for yet (a job still
        loading), so the signal raises KeyboardInterrupt at once."""
        self.at_once = at_once
        self.requested = False
        self.signal: int | None = None
        self._requested_at = 0.0
        self._previous: dict[int, object] = {}

    def request(self, signum: int = signal.SIGINT) -> None:
        """Ask to stop (what the first signal does); also for front ends that stop a job from code."""
        if not self.requested:
            self._requested_at = time.monotonic()
        self.requested = True
        self.signal = signum

    def _handle(self, signum: int, frame: object) -> None:
        if self.requested and time.monotonic() - self._requested_at >= self.FORCE_AFTER:
            raise KeyboardInterrupt
        if not self.requested and self.at_once is not None and self.at_once():
            self.request(signum)
            raise KeyboardInterrupt
        self.request(signum)

    def __enter__(self) -> GracefulStop:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def sigterm_as_interrupt() -> None:
    """Make SIGTERM act like Ctrl-C in this process (main thread): for jobs whose state is whole between any
    two statements that matter (a search writes each candidate's event at once), so a terminated job records
    ``cancelled`` and can be resumed like an interrupted one."""

    def handler(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT and SIGTERM for a short block that must not be split (renames that make several files one
    product), then deliver them to the handlers that were there. Python runs handlers on the main thread whichever
    thread the kernel picks, so replacing the handlers holds them (blocking them on one thread would not). Outside
    the main thread, where handlers cannot be set, the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: held.append(signum)) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        for sig in dict.fromkeys(held):
            signal.raise_signal(sig)


def ignore_stop_signals(worker_id: int) -> None:
    """``DataLoader(worker_init_fn=ignore_stop_signals)``: the worker leaves SIGINT and SIGTERM to the main
    process, which ends its workers itself (they also end when it dies). A SIGTERM from the main process itself
    (its ``terminate()`` of a worker that does not stop in time) still ends the worker at once, as torch's own
    handler does: SIGTERM is blocked and a thread reads who sent each one (``sigwaitinfo``)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if not hasattr(signal, "sigwaitinfo"):  # macOS: SIGTERM keeps torch's handling
        return
    parent = os.getppid()
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})  # threads started from here inherit the mask
    threading.Thread(target=_end_on_sigterm_from, args=(parent,), name="sigterm", daemon=True).start()


def _end_on_sigterm_from(parent: int) -> None:
    while True:
        if signal.sigwaitinfo({signal.SIGTERM}).si_pid == parent:
            os._exit(0)

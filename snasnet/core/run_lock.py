"""One writer per run directory: a job holds an exclusive ``flock`` on ``RUN_DIR/.lock`` while it runs.

A second job on the same directory (``--resume`` of a run that is still going, two ``--run-dir`` alike) is
refused with the owner's PID instead of scoring candidates or training epochs twice over the same files.
The operating system drops the lock when its process ends in any way (``kill -9`` included), so a ``.lock``
file left behind is harmless and nothing has to detect "stale" locks by PID. The file holds the owner's PID
and host, for the message only. Under torchrun only rank 0 writes, so only rank 0 locks (``RunDir``).
"""

from __future__ import annotations

import fcntl
import os
import platform
from pathlib import Path

from snasnet.core.errors import RunInUse, StorageError

LOCK = ".lock"


class RunLock:
    """``acquire()`` takes the lock or raises RunInUse; ``release()`` (or the process's end) gives it back."""

    def __init__(self, directory: str | os.PathLike) -> None:
        self.directory = Path(directory)
        self.path = self.directory / LOCK
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)  # not inherited by exec'd children (PEP 446)
        except OSError as exc:
            raise StorageError(f"cannot use {self.directory} as a run directory: {exc.strerror or exc}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd)
            os.close(fd)
            raise RunInUse(
                f"{self.directory} is in use by {owner}, which is still writing it: wait for it to end, or stop it "
                "and then --resume"
            ) from None
        except OSError as exc:  # e.g. a file system without locks
            os.close(fd)
            raise StorageError(f"cannot lock {self.path}: {exc.strerror or exc}") from None
        try:  # for the message of a refused second writer only: a full disk must not stop the job here
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()} {platform.node()}\n".encode())
        except OSError:
            pass
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None


def _owner(fd: int) -> str:
    """``process 1234 on host`` from the lock file, as its owner wrote it."""
    try:
        text = os.pread(fd, 200, 0).decode(errors="replace").split()
    except OSError:
        text = []
    if not text or not text[0].isdigit():
        return "another process"
    host = f" on {text[1]}" if len(text) > 1 and text[1] != platform.node() else ""
    return f"process {text[0]}{host}"

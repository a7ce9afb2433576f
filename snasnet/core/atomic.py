"""Atomic file writes: every product a job writes (run.json, candidates.csv, best_arch.json, checkpoints,
model.onnx, model.nir, energy.json/csv/png) appears whole or not at all, also after a crash or ``kill -9``.

    with atomic_path("runs/x/model.onnx") as tmp:   # for writers that take a path (torch.onnx, nir, matplotlib)
        write_somehow(tmp)
    with atomic_file("runs/x/energy.csv", newline="") as f:   # for writers that take an open file
        csv.writer(f).writerow(...)
    write_text("runs/x/run.json", text)

The data goes to a temporary file in the same directory (so the rename stays on one file system), which is
fsynced, renamed over the target with ``os.replace`` and made durable by fsyncing the directory. On any error
the temporary file is removed and the old file is left as it was. The file is created with mode 0o666 less
the umask, as ``open`` would (``tempfile.mkstemp`` would make it 0o600: unreadable to the group).
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from snasnet.core.errors import StorageError

#: the temporary files ``_create_temp`` makes: a killed writer leaves one behind (``remove_stale_temps``)
_TEMP = re.compile(r"^\..+\.[0-9a-f]{8}\.tmp(\.[^.]*)?$")


def _create_temp(path: Path) -> Path:
    """A new, empty, hidden file beside ``path`` that keeps its suffix (matplotlib picks the format from it)."""
    while True:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the kernel applies the umask
        except FileExistsError:
            continue
        os.close(fd)
        return tmp


def _fsync(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; on leaving the block it replaces ``path``. The parent
    directory is created if needed."""
    path = Path(path)
    if path.is_dir():
        raise StorageError(f"{path} is a directory: name a file to write")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = _create_temp(path)
    except OSError as exc:
        raise _storage_error(path, exc) from None
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    except Exception as exc:
        tmp.unlink(missing_ok=True)
        cause = _os_error(exc)
        if cause is None:
            raise
        raise _storage_error(path, cause, kept=True) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent)  # make the rename itself durable


def _os_error(exc: BaseException | None) -> OSError | None:
    """The OSError behind ``exc``: itself, or one that a writer wrapped (torch.save raises a RuntimeError
    "enforce fail at inline_container.cc" whose context is the ENOSPC of the write)."""
    for _ in range(5):
        if exc is None or isinstance(exc, OSError):
            return exc
        exc = exc.__cause__ or exc.__context__
    return None


def _storage_error(path: Path, exc: OSError, kept: bool = False) -> StorageError:
    """One line that names the file and the system's reason (a full disk, a read-only file system ...)."""
    note = "; the file there before, if any, is left as it was" if kept else ""
    return StorageError(f"cannot write {path}: {exc.strerror or exc}{note}")


def remove_stale_temps(directory: str | os.PathLike) -> list[Path]:
    """Remove the temporary files that writers killed mid-write left in ``directory`` and below (only ours,
    by their name). Call it only while no other process writes there (``snasnet.core.run_lock``)."""
    removed = []
    for tmp in Path(directory).rglob(".*.tmp*"):
        if _TEMP.match(tmp.name) and tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed.append(tmp)
    return removed


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w", **open_options: object) -> Iterator[IO]:
    """``open(temporary, mode, **open_options)`` for the block; ``path`` is replaced when it ends without error."""
    if not mode.startswith("w"):
        raise ValueError(f"atomic_file writes a whole file: mode {mode!r} is not a 'w' mode")
    with atomic_path(path) as tmp, open(tmp, mode, **open_options) as f:  # noqa: PTH123 (any open option)
        yield f


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Replace ``path`` with ``text`` (UTF-8), atomically."""
    with atomic_file(path, encoding="utf-8") as f:
        f.write(text)
    return Path(path)

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

A path that exists and is not a regular file (a device such as ``/dev/null``, a FIFO, a socket, a directory) is
refused: renaming over it would destroy it. A symbolic link to a regular file is written through: the file it
points to is replaced and the link stays. Files that are one product (the energy report's json, csv and png) are
written together with ``atomic_paths``: a SIGINT or SIGTERM never leaves some new and some old.
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
from snasnet.core.interrupts import signals_deferred

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


def output_target(path: str | os.PathLike) -> Path:
    """The file to replace for ``path``: itself, or the regular file a symbolic link there points to. A StorageError
    for anything else that is there: a directory, a device, a FIFO, a socket, a dangling link or a loop."""
    path = Path(path)
    if path.is_symlink():
        if not path.exists():
            raise StorageError(f"{path} is a broken symbolic link or a loop: name a file to write")
        path = Path(os.path.realpath(path))
    if path.is_dir():
        raise StorageError(f"{path} is a directory: name a file to write")
    if path.exists() and not path.is_file():
        raise StorageError(f"{path} is {_kind(path)}, not a regular file: refusing to replace it; name a file to write")
    return path


def _kind(path: Path) -> str:
    """What a path that is not a regular file is, in words."""
    for test, name in ((Path.is_char_device, "a character device"), (Path.is_block_device, "a block device"),
                       (Path.is_fifo, "a FIFO (named pipe)"), (Path.is_socket, "a socket")):  # fmt: skip
        if test(path):
            return name
    return "not a regular file"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary path to write ``path``'s content to; on leaving the block it replaces ``path``. The parent
    directory is created if needed."""
    with atomic_paths(path) as (tmp,):
        yield tmp


@contextmanager
def atomic_paths(*paths: str | os.PathLike) -> Iterator[list[Path]]:
    """``atomic_path`` for files that are one product: a temporary path for each; on leaving the block all of
    them replace their files, with SIGINT and SIGTERM held until the last rename is done."""
    given = [Path(p) for p in paths]
    targets = [output_target(p) for p in given]
    temps: list[Path] = []
    try:
        for target in targets:
            target.parent.mkdir(parents=True, exist_ok=True)
            temps.append(_create_temp(target))
    except OSError as exc:
        _remove(temps)
        raise _storage_error(given, exc) from None
    try:
        yield temps
        for tmp in temps:
            _fsync(tmp)
        with signals_deferred():  # a stop between two renames would leave the set half old, half new
            for tmp, target in zip(temps, targets, strict=True):
                os.replace(tmp, target)
    except Exception as exc:
        _remove(temps)
        cause = _os_error(exc)
        if cause is None:
            raise
        raise _storage_error(given, cause, kept=True) from None
    except BaseException:
        _remove(temps)
        raise
    for folder in dict.fromkeys(target.parent for target in targets):
        _fsync(folder)  # make the renames themselves durable


def _remove(temps: list[Path]) -> None:
    for tmp in temps:
        tmp.unlink(missing_ok=True)


def _os_error(exc: BaseException | None) -> OSError | None:
    """The OSError behind ``exc``: itself, or one that a writer wrapped (torch.save raises a RuntimeError
    "enforce fail at inline_container.cc" whose context is the ENOSPC of the write)."""
    for _ in range(5):
        if exc is None or (isinstance(exc, OSError) and not isinstance(exc, StorageError)):
            return exc
        if isinstance(exc, StorageError) and exc.__context__ is None:  # a refusal of ours, not the system's
            return exc
        exc = exc.__cause__ or exc.__context__  # (a nested atomic write's StorageError: the system's error)
    return None


def _storage_error(paths: list[Path], exc: OSError, kept: bool = False) -> StorageError:
    """One line that names the file(s) and the system's reason (a full disk, a read-only file system ...)."""
    if isinstance(exc, StorageError):
        return exc
    names = str(paths[0]) if len(paths) == 1 else f"{', '.join(map(str, paths[:-1]))} and {paths[-1]}"
    note = ""
    if kept:
        note = "; the file there before, if any, is left as it was"
        note = note if len(paths) == 1 else "; the files there before, if any, are left as they were"
    return StorageError(f"cannot write {names}: {exc.strerror or exc}{note}")


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

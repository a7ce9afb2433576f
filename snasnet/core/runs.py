"""Run directories and their event stream: the one protocol between jobs and every front end (DESIGN.md).

A job writes ``run.json`` (job, configuration, architecture, seed, versions, start time, status), its
configuration again as ``config.yaml`` (``snasnet.core.config_file``: what ``--config`` reads back), and
appends one JSON object per line to ``events.jsonl``, flushed as it happens::

    {"v": 1, "ts": 1764250000.12, "event": "candidate_scored", "index": 3, "arch": "0302 0030 3003 0000", ...}

Readers (the TUI, tests, scripts) follow ``events.jsonl`` with ``EventReader``, which skips and counts
malformed or partial lines and ignores nothing else: unknown events are passed on for the reader to
ignore. This module imports no torch, so a dashboard can use it in a process of its own.
"""

from __future__ import annotations

import json
import math
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from importlib import metadata
from pathlib import Path

from snasnet.core.atomic import remove_stale_temps, write_text
from snasnet.core.config_file import CONFIG_YAML, write_config_file
from snasnet.core.errors import SnasnetError, StorageError
from snasnet.core.run_lock import RunLock

EVENTS_VERSION = 1
RUN_JSON = "run.json"
EVENTS = "events.jsonl"
DEFAULT_ROOT = "runs"
STATUSES = ("running", "ok", "failed", "cancelled")


def package_versions() -> dict[str, str]:
    """Versions of the packages a result depends on (read from metadata: nothing is imported)."""
    versions = {"python": platform.python_version()}
    for name in ("snasnet", "torch", "torchvision", "spikingjelly", "numpy", "onnx", "onnxruntime"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def default_run_dir(job: str, root: str | os.PathLike = DEFAULT_ROOT) -> Path:
    """``runs/<job>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3`` ... if that second is taken."""
    stem = f"{job}-{datetime.now():%Y%m%d-%H%M%S}"
    path = Path(root) / stem
    n = 2
    while path.exists():
        path = Path(root) / f"{stem}-{n}"
        n += 1
    return path


#: the field that says which numbers were written as null because they were not finite (docs/events.md)
NONFINITE = "nonfinite"


def _plain(value: object) -> tuple[object, object]:
    """``(value as strict JSON, where its non-finite numbers were)``. Tensors and numpy scalars become numbers
    or lists, paths strings. NaN and +-Infinity are not JSON (strict readers refuse them) and become null;
    the second item then holds ``"nan"``, ``"inf"`` or ``"-inf"`` at the same place in a tree of the same
    shape (lists as objects keyed by index), and is None where all is finite."""
    if isinstance(value, dict):
        items = {str(k): _plain(v) for k, v in value.items()}
        where = {k: bad for k, (_, bad) in items.items() if bad is not None}
        return {k: v for k, (v, _) in items.items()}, where or None
    if isinstance(value, (list, tuple)):
        items = [_plain(v) for v in value]
        where = {str(i): bad for i, (_, bad) in enumerate(items) if bad is not None}
        return [v for v, _ in items], where or None
    if isinstance(value, float) and not math.isfinite(value):
        return None, str(value)  # "nan", "inf", "-inf"
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value, None
    if isinstance(value, Path):
        return str(value), None
    if hasattr(value, "tolist"):  # torch tensors, numpy arrays and scalars
        return _plain(value.tolist())
    return str(value), None


def _jsonable(fields: dict) -> dict:
    """``fields`` as strict JSON, with ``"nonfinite"`` saying which numbers were not finite (when any was)."""
    plain, where = _plain(fields)
    if where is not None:
        plain[NONFINITE] = where
    return plain


class RunDir:
    """A job's run directory. On ranks other than 0 of a distributed job, create it with ``enabled=False``:
    every write is then skipped, so the job code needs no rank checks around its events."""

    def __init__(self, path: str | os.PathLike, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        self._events = None
        self._listeners: list[Callable[[dict], None]] = []
        self._lock = RunLock(self.path)

    # --- creation -------------------------------------------------------------------------------
    @classmethod
    def create(
        cls,
        job: str,
        config: dict,
        run_dir: str | os.PathLike | None = None,
        *,
        arch: str | None = None,
        celltype: str | None = None,
        seed: int | None = None,
        enabled: bool = True,
        resume: bool = False,
        lock: RunLock | None = None,
        source_run: str | None = None,
    ) -> RunDir:
        """Make the directory, lock it (``snasnet.core.run_lock``: one writer, until ``close``) and write ``run.json``
        (status ``running``) and ``config.yaml``. With ``resume`` the directory and its events are kept and both
        files are updated; without it an existing non-empty directory is an error, so that no earlier run is
        overwritten. Temporary files a killed write left behind are removed. ``lock``: the directory's lock,
        already taken by a job that had to read the run before deciding to write it (``snasnet.train.job.resume``).
        A directory made here is removed again when the run cannot start (a full disk), so that no empty run is
        left. ``source_run``: the run whose output this job reads (an eval's or export's training run,
        ``source_run_of``), recorded in ``run.json``."""
        path = Path(run_dir) if run_dir is not None else default_run_dir(job)
        run = cls(path, enabled)
        if not enabled:
            return run
        if path.exists() and not path.is_dir():
            raise StorageError(f"run directory {path} is a file, not a directory: choose another --run-dir")
        if path.is_symlink() and not path.exists():
            raise StorageError(f"run directory {path} is a broken symbolic link or a loop: choose another --run-dir")
        made = not path.exists()
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # read-only, a symlink loop above it, /proc ...
            raise StorageError(f"cannot create run directory {path}: {exc.strerror or exc}") from None
        if lock is not None:
            run._lock = lock
        try:
            run._refuse_a_run_unless(resume)
            run._lock.acquire()  # before anything is read or written: another live writer is refused here
            try:
                remove_stale_temps(path)  # (they do not make the directory a run of its own)
                run._refuse_a_run_unless(resume)  # again: one may have started since
                run._start(job, config, arch, celltype, seed, resume, source_run)
            except BaseException:
                if made:
                    run._lock.path.unlink(missing_ok=True)
                run._lock.release()
                raise
        except BaseException:
            if made:
                with suppress(OSError):
                    path.rmdir()  # only if nothing else is in it
            raise
        return run

    def _refuse_a_run_unless(self, resume: bool) -> None:
        if not resume and any(p.name != self._lock.path.name for p in self.path.iterdir()):
            raise SnasnetError(
                f"run directory {self.path} already holds a run: choose another --run-dir, or --resume it"
            )

    def _start(
        self, job: str, config: dict, arch: str | None, celltype: str | None, seed: int | None, resume: bool,
        source_run: str | None = None,
    ) -> None:  # fmt: skip
        """Write run.json: a new run's, or a resumed one's updated."""
        info = self.read_info() if resume else {}
        info.pop(NONFINITE, None)  # said again below if the new configuration still has them
        info.update(
            {
                "job": job,
                "config": config,
                "arch": arch,
                "celltype": celltype,
                "seed": seed,
                "versions": package_versions(),
                "host": platform.node(),
                "argv": sys.argv,
                "status": "running",
                "error": None,
            }
        )
        info.setdefault("started", time.time())
        if source_run is not None:
            info["source_run"] = source_run
        if resume:
            info["resumed"] = info.get("resumed", []) + [time.time()]
            _end_torn_line(self.path / EVENTS)
        self._write_info(info)
        # the same configuration as YAML, which `--config` reads back: the run, repeated
        write_config_file(self.path / CONFIG_YAML, _plain(config)[0], job)

    # --- run.json -------------------------------------------------------------------------------
    @staticmethod
    def source_run_of(checkpoint: str | os.PathLike) -> str | None:
        """The run directory a checkpoint was written in (``<run>/checkpoints/best.pt`` beside ``<run>/run.json``),
        as an absolute path; None for a file from elsewhere (the original's checkpoints)."""
        path = Path(checkpoint).resolve()
        run = path.parent.parent
        return str(run) if path.parent.name == "checkpoints" and (run / RUN_JSON).is_file() else None

    def read_info(self) -> dict:
        try:
            return json.loads((self.path / RUN_JSON).read_text())
        except (OSError, ValueError):
            return {}

    def _write_info(self, info: dict) -> None:
        write_text(self.path / RUN_JSON, json.dumps(_jsonable(info), indent=2, allow_nan=False) + "\n")

    def record(self, **fields: object) -> None:
        """Add ``fields`` to run.json: a result that a reader of the run's summary wants without its events (a
        training's test accuracy)."""
        if not self.enabled:
            return
        info = self.read_info()
        info.update(fields)
        self._write_info(info)

    def set_status(self, status: str, error: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if not self.enabled:
            return
        info = self.read_info()
        info.update({"status": status, "error": error, "finished": time.time() if status != "running" else None})
        self._write_info(info)

    # --- events ---------------------------------------------------------------------------------
    def subscribe(self, listener: Callable[[dict], None]) -> None:
        """Call ``listener(event)`` for every event this process emits: how the CLI shows progress from the
        same events a dashboard reads."""
        self._listeners.append(listener)

    def emit(self, event: str, **fields: object) -> dict:
        """Append one event and flush it, so a follower sees it at once; tell the listeners. Returns the event."""
        record = _jsonable({"v": EVENTS_VERSION, "ts": round(time.time(), 3), "event": event, **fields})
        if self.enabled:
            try:
                if self._events is None:
                    self._events = open(self.path / EVENTS, "a", encoding="utf-8")  # noqa: SIM115 (kept open)
                self._events.write(json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n")
                self._events.flush()
            except OSError as exc:
                raise StorageError(f"cannot write {self.path / EVENTS}: {exc.strerror or exc}") from None
            for listener in self._listeners:
                listener(record)
        return record

    def close(self) -> None:
        """Close the events file and give the directory's lock back."""
        if self._events is not None:
            with suppress(OSError):  # its last write already failed and said so
                self._events.close()
            self._events = None
        self._lock.release()

    def events(self) -> list[dict]:
        return EventReader(self.path / EVENTS).read_new()

    # --- a job's life -----------------------------------------------------------------------------
    @contextmanager
    def job(self, **started: object) -> Iterator[RunDir]:
        """``run_started`` on entry; ``run_finished`` with status ok, cancelled (Ctrl-C, SIGTERM turned into
        KeyboardInterrupt) or failed (with the error message) on exit. The exception still propagates."""
        try:
            self.emit("run_started", **started)  # (a listener may be stopped here: a closed pipe, Ctrl-C)
            yield self
        except KeyboardInterrupt:
            self._finish("cancelled", "interrupted")
            raise
        except SnasnetError as exc:
            self._finish("failed", str(exc))
            raise
        except BaseException as exc:
            self._finish("failed", "".join(traceback.format_exception_only(type(exc), exc)).strip())
            raise
        else:
            self._finish("ok", None)

    def _finish(self, status: str, error: str | None) -> None:
        try:
            try:
                self.emit("run_finished", status=status, error=error)
            finally:
                self.set_status(status, error)  # also when a listener failed (a front end whose output closed)
        except StorageError:
            if status == "ok":
                raise
            # the job is already failing (a full disk, most likely): its own error is the one to report
        finally:
            self.close()


def _end_torn_line(path: Path) -> None:
    """A process killed while writing leaves a line without its newline: end it, so that the next event
    starts a line of its own (readers skip the torn one)."""
    if path.is_file() and path.stat().st_size:
        with open(path, "rb+") as f:
            f.seek(-1, os.SEEK_END)
            if f.read(1) != b"\n":
                f.write(b"\n")


def _float_sized_int(text: str) -> int:
    """A JSON integer that readers can also take as a float (a 400-digit one overflows every float(): it is no
    figure a job wrote, and the line holding it is skipped like any malformed one)."""
    value = int(text)
    float(value)  # OverflowError beyond ~1.8e308
    return value


@dataclass
class EventReader:
    """Follows an ``events.jsonl`` that another process may still be writing.

    ``read_new()`` returns the complete new lines since the last call, parsed; a line without its newline
    yet is left for the next call; malformed lines (an integer too large for a float included) and objects
    without ``"event"`` are skipped and counted in ``skipped``.
    """

    path: Path
    offset: int = 0
    skipped: int = 0
    _partial: bytes = field(default=b"", repr=False)

    def read_new(self) -> list[dict]:
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # incomplete last line (or b"")
        events = []
        for line in lines:
            if not line.strip():
                continue
            try:
                record = json.loads(line, parse_int=_float_sized_int)
            except (ValueError, OverflowError):
                self.skipped += 1
                continue
            if not isinstance(record, dict) or not isinstance(record.get("event"), str):
                self.skipped += 1
                continue
            events.append(record)
        return events

    @property
    def pending(self) -> bool:
        """A line without its newline waits at the end: still being written, or cut off if no writer is left."""
        return bool(self._partial.strip())


def list_runs(root: str | os.PathLike = DEFAULT_ROOT) -> list[Path]:
    """Run directories under ``root`` (those with a run.json), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = [p for p in root.iterdir() if (p / RUN_JSON).is_file()]
    return sorted(runs, key=lambda p: (p / RUN_JSON).stat().st_mtime, reverse=True)

"""Where the dashboard's data comes from: run directories on disk, followed incrementally.

``RunsSource.poll()`` reads only what was appended to each ``events.jsonl`` since the last poll (``EventReader``
keeps the offset, leaves a half-written line for later and counts malformed ones) and re-reads a ``run.json`` only
when it changed. A run that cannot be read is marked (``RunView.error``), never hides the others; a finished
run's last line without its newline counts as skipped. It does file I/O, so the dashboard calls it from a worker
thread; it imports no textual and no torch. Tests hand the app a source over prepared directories (or any object
with the same ``poll``/``add``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from snasnet.core.runs import EVENTS, RUN_JSON, EventReader, list_runs
from snasnet_cli.tui.state import RunState, reduce, with_info

# where a training writes its checkpoints in its run directory (snasnet.train.trainer.CHECKPOINTS; that module
# imports torch)
CHECKPOINTS = "checkpoints"


@dataclass(frozen=True)
class RunView:
    """A run as the UI sees it after a poll: immutable, safe to hand from the worker thread to the UI."""

    path: Path
    info: dict
    state: RunState
    skipped: int  # malformed lines of events.jsonl that were skipped (a finished run's cut-off last line too)
    error: str | None = None  # why the run cannot be read (e.g. "events.jsonl: Is a directory"); None if it can

    @property
    def name(self) -> str:
        return self.path.name


def grouped_by_source(views: list[RunView]) -> list[tuple[RunView, bool]]:
    """``views`` in their order, each eval or export moved right under the training run it read (``source_run`` in
    its run.json) when that run is listed; True marks such a run."""
    by_path = {str(v.path.resolve()): v for v in views}
    under: dict[str, list[RunView]] = {}
    top = []
    for view in views:
        source = view.info.get("source_run") if isinstance(view.info, dict) else None
        if isinstance(source, str) and by_path.get(source) not in (None, view):
            under.setdefault(source, []).append(view)
        else:
            top.append(view)
    return [pair for v in top for pair in [(v, False), *((c, True) for c in under.get(str(v.path.resolve()), []))]]


@dataclass
class RunFollower:
    """One run directory: the events read so far, reduced."""

    path: Path
    reader: EventReader = field(init=False)
    state: RunState = field(default_factory=RunState)
    info: dict = field(default_factory=dict)
    error: str | None = None
    _info_stamp: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.reader = EventReader(self.path / EVENTS)

    def poll(self) -> bool:
        """Read what is new; True if anything changed. A file that cannot be read (a directory, no permission)
        sets ``error``, which the next poll clears once it reads again."""
        before = self.error
        try:
            events = self.reader.read_new()
        except OSError as exc:
            self.error, events = f"{EVENTS}: {exc.strerror or exc}", []
        else:
            self.error = None
        changed = self.error != before
        if events:
            self.state = reduce(self.state, events)
            changed = True
        try:
            st = os.stat(self.path / RUN_JSON)
            stamp = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if stamp != self._info_stamp:
            try:
                self.info = json.loads((self.path / RUN_JSON).read_text())
                self._info_stamp = stamp
                changed = True
            except FileNotFoundError:
                self._info_stamp = None  # not written yet: the next poll tries again
            except OSError as exc:  # a directory, no permission: say so, as for events.jsonl
                self.error = self.error or f"{RUN_JSON}: {exc.strerror or exc}"
                changed |= self.error != before
            except ValueError:
                self._info_stamp = None  # edited by hand mid-write: the next poll tries again
        return changed

    def view(self) -> RunView:
        info = dict(self.info) if isinstance(self.info, dict) else {}
        state = with_info(self.state, info)
        # a finished run's writer is gone: a line still waiting for its newline was cut off, not late
        cut = int(self.reader.pending and state.finished)
        return RunView(self.path, info, state, self.reader.skipped + cut, self.error)


def is_run_dir(path: Path) -> bool:
    return (path / RUN_JSON).is_file() or (path / EVENTS).is_file()


class RunsSource:
    """The runs under ``root`` (``runs/`` by default; new ones appear as jobs create them) and any run directory
    added by hand: the one given on the command line, the ones of jobs launched from the dashboard."""

    def __init__(self, root: Path | None = None, runs: list[Path] | tuple[Path, ...] = ()) -> None:
        self.root = Path(root) if root is not None else None
        self._extra = [Path(p) for p in runs]
        self._followers: dict[Path, RunFollower] = {}

    @classmethod
    def for_path(cls, path: Path) -> RunsSource:
        """A run directory is followed alone; any other directory is a root of runs."""
        path = Path(path)
        return cls(runs=[path]) if is_run_dir(path) else cls(root=path)

    @property
    def jobs_root(self) -> Path:
        """Where jobs launched from the dashboard write their run directories."""
        if self.root is not None:
            return self.root
        return self._extra[0].parent if self._extra else Path("runs")

    def add(self, path: Path) -> None:
        """Follow one more run directory (it may not exist yet: a job is about to create it)."""
        path = Path(path)
        if path not in self._extra:
            self._extra.append(path)

    def paths(self) -> list[Path]:
        found = list_runs(self.root) if self.root is not None else []
        return list(dict.fromkeys([*self._extra, *found]))

    def poll(self) -> tuple[list[RunView], bool]:
        """Every run's current view (newest first where the root lists them) and whether anything changed."""
        changed = False
        views = []
        for path in self.paths():
            follower = self._followers.get(path)
            if follower is None:
                follower = self._followers[path] = RunFollower(path)
                changed = True
            try:
                changed |= follower.poll()
            except Exception as exc:  # one unreadable run is marked, never hides the others
                error = f"{type(exc).__name__}: {exc}"
                changed |= error != follower.error
                follower.error = error
            views.append(follower.view())
        return views, changed


def local_checkpoint(run_dir: Path, recorded: str) -> Path:
    """Where a checkpoint a training recorded lies in ``run_dir`` as followed here. A run synced from a GPU
    server or copied elsewhere records the path where it was written (``/srv/runs/x/checkpoints/best.pt``):
    its part from ``checkpoints/`` on is taken in ``run_dir``, never the recorded path itself, which names
    another machine's file or the original of a copy."""
    parts = Path(recorded).parts
    if CHECKPOINTS in parts[:-1]:
        start = len(parts) - 1 - parts[::-1].index(CHECKPOINTS)
        return Path(run_dir).joinpath(*parts[start:])
    return Path(run_dir) / CHECKPOINTS / Path(recorded).name

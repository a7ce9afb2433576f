"""Where the dashboard's data comes from: run directories on disk, followed incrementally.

``RunsSource.poll()`` reads only what was appended to each ``events.jsonl`` since the last poll (``EventReader``
keeps the offset, leaves a half-written line for later and counts malformed ones) and re-reads a ``run.json`` only
when it changed. It does file I/O, so the dashboard calls it from a worker thread; it imports no textual and no
torch. Tests hand the app a source over prepared directories (or any object with the same ``poll``/``add``).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from snasnet.runs import EVENTS, RUN_JSON, EventReader, list_runs
from snasnet_cli.tui.state import RunState, reduce, with_info


@dataclass(frozen=True)
class RunView:
    """A run as the UI sees it after a poll: immutable, safe to hand from the worker thread to the UI."""

    path: Path
    info: dict
    state: RunState
    skipped: int  # malformed lines of events.jsonl that were skipped

    @property
    def name(self) -> str:
        return self.path.name


@dataclass
class RunFollower:
    """One run directory: the events read so far, reduced."""

    path: Path
    reader: EventReader = field(init=False)
    state: RunState = field(default_factory=RunState)
    info: dict = field(default_factory=dict)
    _info_stamp: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        self.reader = EventReader(self.path / EVENTS)

    def poll(self) -> bool:
        """Read what is new; True if anything changed."""
        changed = False
        events = self.reader.read_new()
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
            except (OSError, ValueError):
                self._info_stamp = None  # missing, or edited by hand mid-write: the next poll tries again
        return changed

    def view(self) -> RunView:
        info = dict(self.info) if isinstance(self.info, dict) else {}
        return RunView(self.path, info, with_info(self.state, info), self.reader.skipped)


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
            changed |= follower.poll()
            views.append(follower.view())
        return views, changed

"""The leaderboard of a search as data, for any size up to a whole search space (102,596 backward cells): the
candidates in arrays grown in place, any sort order by numpy (one ``lexsort`` per order and new batch, cached),
the live Pareto front of score (up) against SOPs (down), and the scatter's points reduced to the plot's cells.
Pure: no textual, no torch; the search panel shows ``top`` and draws ``scatter``.

    board = Board()
    board.extend(state.search.candidates[len(board):])     # each poll: only what is new
    board.top(SORTS[0], reverse=False, k=100)               # the best 100 by score
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from snasnet_cli.tui.state import Candidate


def _or(value: float | None, missing: float) -> float:
    return missing if value is None else float(value)


@dataclass(frozen=True)
class SortOrder:
    column: str
    label: str
    #: a candidate's value for ordering, a number (a missing one mapped to the far end)
    value: Callable[[Candidate], float] | None
    descending: bool  # the natural direction: best scores first, cheapest and earliest candidates first


SORTS = (
    SortOrder("score", "score", lambda c: c.sort_score, True),
    SortOrder("index", "#", lambda c: c.index, False),
    SortOrder("sops", "SOPs", lambda c: _or(c.sops, math.inf), False),
    SortOrder("macs", "MACs", lambda c: _or(c.macs, math.inf), False),
    SortOrder("params", "params", lambda c: _or(c.params, math.inf), False),
    SortOrder("arch", "arch", None, False),  # by the string
    SortOrder("firing", "firing rate", lambda c: _or(c.mean_firing_rate, -1.0), False),
    SortOrder("seconds", "seconds", lambda c: _or(c.seconds, math.inf), False),
)


class _Column:
    """A float64 array that grows by doubling, so appending n values costs O(n) overall."""

    def __init__(self) -> None:
        self._data = np.empty(1024)
        self.size = 0

    def extend(self, values: list[float]) -> None:
        need = self.size + len(values)
        if need > len(self._data):
            grown = np.empty(max(need, 2 * len(self._data)))
            grown[: self.size] = self._data[: self.size]
            self._data = grown
        self._data[self.size : need] = values
        self.size = need

    @property
    def values(self) -> np.ndarray:
        return self._data[: self.size]


class LiveFront:
    """The Pareto front of (score up, SOPs down), kept as points arrive: a staircase sorted by SOPs whose scores
    rise with them. A point is on it unless a member has no more SOPs and no lower score (and is not the same
    point: duplicates are both on it). Candidates without a finite score or without SOPs are left out."""

    def __init__(self) -> None:
        self._sops: list[float] = []
        self._scores: list[float] = []
        self._members: list[int] = []
        self.version = 0

    def add(self, position: int, score: float | None, sops: float | None) -> None:
        if score is None or sops is None or not math.isfinite(score):
            return
        at = bisect.bisect_right(self._sops, sops)
        if at and self._scores[at - 1] >= score and (self._sops[at - 1], self._scores[at - 1]) != (sops, score):
            return  # dominated by the cheapest member that is no more expensive
        # members from the first as expensive on: those that score no better are dominated (unless equal); the
        # scores rise along the staircase, so they are the ones up to the first that scores more
        low = end = bisect.bisect_left(self._sops, sops)
        while end < len(self._sops) and self._scores[end] <= score:
            end += 1
        same = [i for i in range(low, end) if (self._sops[i], self._scores[i]) == (sops, score)]
        new = [(self._sops[i], self._scores[i], self._members[i]) for i in same] + [(sops, score, position)]
        self._sops[low:end] = [p[0] for p in new]
        self._scores[low:end] = [p[1] for p in new]
        self._members[low:end] = [p[2] for p in new]
        self.version += 1

    @property
    def members(self) -> list[int]:
        """Positions of the front's candidates, cheapest first."""
        return list(self._members)


class Board:
    """All candidates of one search, as the panel shows them."""

    def __init__(self) -> None:
        self.candidates: list[Candidate] = []
        self._columns = {s.column: _Column() for s in SORTS if s.value is not None}
        self._arch: list[str] = []
        self.front = LiveFront()
        self._orders: dict[tuple, np.ndarray] = {}  # valid for the candidates as they are
        #: full orders kept across batches: key -> (positions in order, their sort keys), merged with what is new
        self._sorted: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._max_index = -1
        self._in_index_order = True  # every batch came after the ones before (ties can then be merged in)
        self._has_costs = False
        self._grid: _Grid | None = None
        self._arch_array = np.asarray([], dtype=str)

    def __len__(self) -> int:
        return len(self.candidates)

    def extend(self, candidates: Iterable[Candidate]) -> None:
        new = list(candidates)
        if not new:
            return
        start = len(self.candidates)
        self.candidates += new
        for sort in SORTS:
            if sort.value is not None:
                self._columns[sort.column].extend([sort.value(c) for c in new])
        self._arch += [c.arch for c in new]
        self._has_costs = self._has_costs or any(c.sops is not None for c in new)
        self._in_index_order = self._in_index_order and min(c.index for c in new) > self._max_index
        self._max_index = max(self._max_index, max(c.index for c in new))
        for position, c in enumerate(new, start=start):
            self.front.add(position, c.score, c.sops)
        self._orders.clear()

    @property
    def has_costs(self) -> bool:
        """Some candidate carries its SOPs (runs made before searches measured them carry none)."""
        return self._has_costs

    def order(self, sort: SortOrder, reverse: bool = False, front_only: bool = False) -> np.ndarray:
        """Positions in ``sort``'s order (``reverse``: the other way), ties by candidate index. A full order is
        sorted once; later batches are merged into it (a binary search per new candidate, not a new sort)."""
        key = (sort.column, reverse, front_only)
        if key in self._orders:
            return self._orders[key]
        if sort.value is None:
            self._orders[key] = self._by_string(sort.descending != reverse, front_only)
            return self._orders[key]
        keys = self._keys(sort, reverse)
        if front_only:
            positions = np.asarray(self.front.members, dtype=np.int64)
            index = self._columns["index"].values[positions]
            order = positions[np.lexsort((index, keys[positions]))]
        else:
            order = self._merged(key, keys)
        self._orders[key] = order
        return order

    def _keys(self, sort: SortOrder, reverse: bool) -> np.ndarray:
        """Ascending sort keys of every candidate for this order."""
        values = self._columns[sort.column].values
        return -values if sort.descending != reverse else values

    def _by_string(self, descending: bool, front_only: bool) -> np.ndarray:
        """The order of the architecture strings (ties by index either way)."""
        if len(self._arch_array) < len(self._arch):  # (numpy's strings, made once per candidate)
            self._arch_array = np.concatenate([self._arch_array, np.asarray(self._arch[len(self._arch_array) :])])
        positions = np.asarray(self.front.members, dtype=np.int64) if front_only else np.arange(len(self._arch))
        strings, index = self._arch_array[positions], self._columns["index"].values[positions]
        order = np.lexsort((-index, strings))[::-1] if descending else np.lexsort((index, strings))
        return positions[order]

    def _merged(self, key: tuple, keys: np.ndarray) -> np.ndarray:
        kept = self._sorted.get(key)
        if kept is None or not self._in_index_order or len(kept[0]) > len(keys):
            order = np.lexsort((self._columns["index"].values, keys))
        else:
            old, old_keys = kept
            new = np.arange(len(old), len(keys))
            new = new[np.argsort(keys[new], kind="stable")]  # (their indices rise with their positions)
            # after every equal old key: the new candidates have the larger indices
            order = np.insert(old, np.searchsorted(old_keys, keys[new], side="right"), new)
        self._sorted[key] = (order, keys[order])
        return order

    def top(self, sort: SortOrder, reverse: bool = False, k: int = 100, front_only: bool = False) -> list[Candidate]:
        return [self.candidates[i] for i in self.order(sort, reverse, front_only)[:k].tolist()]

    def on_front(self, candidate: Candidate) -> bool:
        return candidate.index in self._front_indices()

    def _front_indices(self) -> set[int]:
        key = ("front-indices", self.front.version)
        if key not in self._orders:
            self._orders = {k: v for k, v in self._orders.items() if k[0] != "front-indices"}
            self._orders[key] = {self.candidates[i].index for i in self.front.members}
        return self._orders[key]

    def scatter(self, columns: int = 80, rows: int = 40) -> tuple[list[float], list[float], list[float], list[float]]:
        """(SOPs, score) of one candidate per occupied cell of a ``columns`` x ``rows`` grid over the data (what a
        plot of that resolution can show), then of every front member. The grid is kept across batches: new
        candidates inside its bounds only add their cells."""
        if self._grid is None or (self._grid.columns, self._grid.rows) != (columns, rows):
            self._grid = _Grid(columns, rows)
        sops, scores = self._columns["sops"].values, self._columns["score"].values
        xs, ys = self._grid.update(sops, scores)
        members = self.front.members
        return xs, ys, [float(sops[i]) for i in members], [float(scores[i]) for i in members]


class _Grid:
    """One representative point per occupied cell of a grid over the finite points seen so far."""

    def __init__(self, columns: int, rows: int) -> None:
        self.columns, self.rows = columns, rows
        self.seen = 0
        self.bounds: tuple[float, float, float, float] | None = None
        self.cells: dict[int, tuple[float, float]] = {}

    def update(self, x_all: np.ndarray, y_all: np.ndarray) -> tuple[list[float], list[float]]:
        x, y = x_all[self.seen :], y_all[self.seen :]
        shown = np.isfinite(x) & np.isfinite(y)
        x, y = x[shown], y[shown]
        if x.size:
            inside = self.bounds is not None and (
                x.min() >= self.bounds[0] and x.max() <= self.bounds[1] and y.min() >= self.bounds[2]
                and y.max() <= self.bounds[3]
            )  # fmt: skip
            if not inside:  # new bounds: every point again
                every = np.isfinite(x_all) & np.isfinite(y_all)
                x, y = x_all[every], y_all[every]
                self.bounds = (float(x.min()), float(x.max()), float(y.min()), float(y.max()))
                self.cells = {}
            codes = _cells(x, self.columns, *self.bounds[:2]) * self.rows + _cells(y, self.rows, *self.bounds[2:])
            codes, first = np.unique(codes, return_index=True)
            for code, i in zip(codes.tolist(), first.tolist(), strict=True):
                self.cells.setdefault(code, (float(x[i]), float(y[i])))
        self.seen = len(x_all)
        points = [self.cells[code] for code in sorted(self.cells)]
        return [p[0] for p in points], [p[1] for p in points]


def _cells(values: np.ndarray, count: int, low: float, high: float) -> np.ndarray:
    if high <= low:
        return np.zeros(values.shape, dtype=np.int64)
    return np.clip(((values - low) / (high - low) * count).astype(np.int64), 0, count - 1)

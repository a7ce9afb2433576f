"""Pareto fronts of points to minimise: non-dominated sorting (front ranks), NSGA-II's crowding distance (Deb et
al. 2002), and the knee of a front. Plain functions on sequences of equal-length tuples of floats, every objective
minimised (negate one to maximise it).

    ranks = front_ranks([(1, 3), (2, 2), (3, 1), (2, 3)])   # [1, 1, 1, 2]
    crowding_distances([(1, 3), (2, 2), (3, 1)])             # [inf, 2.0, inf]

Equal points dominate neither other: duplicates share a rank.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np

Point = Sequence[float]


def dominates(a: Point, b: Point) -> bool:
    """``a`` is no worse than ``b`` in every objective and better in at least one."""
    return all(x <= y for x, y in zip(a, b, strict=True)) and any(x < y for x, y in zip(a, b, strict=True))


def front_ranks(points: Sequence[Point]) -> list[int]:
    """Each point's front: 1 for the non-dominated ones, 2 for those dominated only by front 1, and so on.
    Two objectives: a sort and a sweep, O(n log n) (a whole search space of 102,596 cells in about a second);
    more: numpy, O(n^2) per front."""
    if not points:
        return []
    width = len(points[0])
    if any(len(p) != width for p in points):
        raise ValueError("every point needs the same number of objectives")
    if width == 1:
        # one objective: a rank per distinct value, best first
        order = sorted({p[0] for p in points})
        place = {v: r for r, v in enumerate(order, start=1)}
        return [place[p[0]] for p in points]
    if width == 2:
        return _ranks_2d(points)
    return _ranks_nd(np.asarray(points, dtype=np.float64))


def _ranks_2d(points: Sequence[Point]) -> list[int]:
    # Distinct points in (x, y) order: an earlier one dominates a later one iff its y is no larger. So a point
    # belongs to the first front whose smallest y so far is larger than its own; those smallest ys grow with the
    # front, so a binary search finds it.
    unique = sorted({(float(p[0]), float(p[1])) for p in points})
    lowest: list[float] = []  # per front, the smallest y of its members so far
    rank = {}
    for x, y in unique:
        k = bisect.bisect_right(lowest, y)
        if k == len(lowest):
            lowest.append(y)
        else:
            lowest[k] = y
        rank[(x, y)] = k + 1
    return [rank[(float(p[0]), float(p[1]))] for p in points]


def _ranks_nd(values: np.ndarray) -> list[int]:
    ranks = np.zeros(len(values), dtype=np.int64)
    left = np.arange(len(values))
    front = 0
    while left.size:
        front += 1
        rest = values[left]
        dominated = np.zeros(left.size, dtype=bool)
        for start in range(0, left.size, 1024):  # a block of candidates at a time bounds the memory
            block = rest[start : start + 1024]
            no_worse = (rest[None, :, :] <= block[:, None, :]).all(axis=2)
            better = (rest[None, :, :] < block[:, None, :]).any(axis=2)
            dominated[start : start + 1024] = (no_worse & better).any(axis=1)
        ranks[left[~dominated]] = front
        left = left[dominated]
    return ranks.tolist()


def crowding_distances(points: Sequence[Point]) -> list[float]:
    """NSGA-II's crowding distance of each point of one front: per objective, the gap between its two neighbours
    in that objective's order over the objective's range, summed; the first and last in any objective get
    infinity. Equal points are neighbours with no gap (ties in an objective keep the points' order)."""
    n = len(points)
    if n == 0:
        return []
    distances = [0.0] * n
    for m in range(len(points[0])):
        order = sorted(range(n), key=lambda i: (points[i][m], i))
        low, high = points[order[0]][m], points[order[-1]][m]
        distances[order[0]] = distances[order[-1]] = math.inf
        if high == low or not math.isfinite(high - low):
            continue
        for before, i, after in zip(order, order[1:], order[2:], strict=False):
            distances[i] += (points[after][m] - points[before][m]) / (high - low)
    return distances


def knee(points: Sequence[Point]) -> int:
    """The index of the front's knee: the point nearest the ideal point (each objective at its best over the
    points) once every objective is scaled to [0, 1] over the points; the first such point on a tie."""
    if not points:
        raise ValueError("a knee needs at least one point")
    width = len(points[0])
    lows = [min(p[m] for p in points) for m in range(width)]
    spans = [max(p[m] for p in points) - lows[m] for m in range(width)]

    def distance(p: Point) -> float:
        return math.fsum(((p[m] - lows[m]) / spans[m]) ** 2 for m in range(width) if spans[m] > 0)

    return min(range(len(points)), key=lambda i: (distance(points[i]), i))

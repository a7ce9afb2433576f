"""Pareto fronts on hand-made points (every objective minimised): ranks, ties, duplicates, crowding, the knee."""

from __future__ import annotations

import math
import random

import pytest

from snasnet.search.pareto import _ranks_nd, crowding_distances, dominates, front_ranks, knee


def test_dominance_needs_one_strictly_better_objective():
    assert dominates((1, 2), (2, 2))
    assert not dominates((1, 2), (1, 2))  # equal points dominate neither other
    assert not dominates((1, 3), (2, 2))


def test_front_ranks_of_a_staircase():
    #   (1,4) (2,2) (4,1) on the front; (3,3) behind (2,2); (4,4) behind (3,3); (5,5) behind all
    points = [(3, 3), (1, 4), (4, 4), (2, 2), (5, 5), (4, 1)]
    assert front_ranks(points) == [2, 1, 3, 1, 4, 1]


def test_ties_in_one_objective():
    # same first objective: the lower second one dominates; same second one: the lower first one dominates
    assert front_ranks([(1, 2), (1, 3), (0, 3), (2, 2)]) == [1, 2, 1, 2]


def test_duplicates_share_their_rank():
    points = [(1, 1), (2, 0), (1, 1), (3, 3), (3, 3)]
    assert front_ranks(points) == [1, 1, 1, 2, 2]


def test_one_objective_ranks_each_distinct_value():
    assert front_ranks([(3,), (1,), (2,), (1,)]) == [3, 1, 2, 1]


def test_infinity_is_worst_and_ranks_like_a_number():
    assert front_ranks([(math.inf, 0), (1, 1), (math.inf, 1)]) == [1, 1, 2]


def test_three_objectives():
    points = [(1, 1, 1), (0, 2, 2), (2, 2, 2), (1, 1, 1), (3, 0, 3)]
    assert front_ranks(points) == [1, 1, 2, 1, 1]


def test_the_two_objective_sweep_agrees_with_pairwise_dominance():
    rng = random.Random(5)
    points = [(rng.randint(0, 12), rng.randint(0, 12)) for _ in range(300)]  # many ties and duplicates
    assert front_ranks(points) == _ranks_nd(__import__("numpy").asarray(points, dtype=float))
    # and by the definition: a point of front k is dominated by one of front k - 1 and by none of front k
    ranks = front_ranks(points)
    for p, r in zip(points, ranks, strict=True):
        assert not any(dominates(q, p) for q, s in zip(points, ranks, strict=True) if s >= r)
        if r > 1:
            assert any(dominates(q, p) for q, s in zip(points, ranks, strict=True) if s == r - 1)


def test_crowding_distance_of_a_hand_made_front():
    # objective ranges 4 and 4; the middle points' neighbours are 2 apart in each: (2/4 + 2/4) = 1
    front = [(0, 4), (1, 3), (2, 2), (4, 0)]
    assert crowding_distances(front) == [math.inf, pytest.approx(2 / 4 + 2 / 4), pytest.approx(3 / 4 + 3 / 4), math.inf]


def test_crowding_distance_of_duplicates_and_of_one_or_two_points():
    assert crowding_distances([(1, 1)]) == [math.inf]
    assert crowding_distances([(1, 1), (2, 0)]) == [math.inf, math.inf]
    # the inner duplicate has a neighbour with no gap on one side
    assert crowding_distances([(0, 2), (1, 1), (1, 1), (2, 0)]) == [math.inf, 1.0, 1.0, math.inf]


def test_knee_is_the_point_nearest_the_ideal_one():
    # scaled to [0, 1]: (0, 1), (0.1, 0.1), (1, 0): the middle one is nearest (0, 0)
    assert knee([(0, 10), (1, 1), (10, 0)]) == 1
    assert knee([(5, 5)]) == 0
    assert knee([(0, 1), (1, 0)]) == 0  # a tie: the first

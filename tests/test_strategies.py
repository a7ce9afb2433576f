"""Search strategies: what they propose, never twice, the same for the same seed whatever the batching."""

from __future__ import annotations

import pytest
import torch

from snasnet.core.errors import ConfigError
from snasnet.network.arch import Architecture, enumerate_canonical, forward_slots, sample
from snasnet.search import strategies
from snasnet.search.strategies import (
    DEFAULT_BUDGET,
    SPACE_SIZES,
    AgingEvolution,
    list_strategies,
    make_strategy,
    mutate,
    register_strategy,
)

pytestmark = pytest.mark.usefixtures("one_thread")


def edge_count(arch: Architecture) -> float:
    """A stand-in score that a strategy can learn from: more edges score higher."""
    return float(sum(v > 0 for row in arch.matrix for v in row))


def drain(strategy, limit: int = 1, score=edge_count) -> list[Architecture]:
    """Run a strategy as the search does: propose, score everything proposed, tell it, repeat."""
    out = []
    while proposals := strategy.propose(limit):
        for arch in proposals:
            strategy.observe(arch, score(arch))
        out += proposals
    return out


def test_exhaustive_forward_proposes_every_canonical_cell_of_the_enumeration_once():
    cells = drain(make_strategy("exhaustive", "forward", seed=0), limit=500)
    assert len(cells) == 7012 == SPACE_SIZES["forward"]
    assert cells == list(enumerate_canonical("forward"))


@pytest.mark.slow
def test_backward_space_size_matches_the_enumeration():
    assert sum(1 for _ in enumerate_canonical("backward")) == SPACE_SIZES["backward"] == 102596


def test_exhaustive_with_a_budget_stops_after_that_many_in_enumeration_order():
    cells = drain(make_strategy("exhaustive", "backward", seed=0, budget=25), limit=4)
    assert cells == [c for c, _ in zip(enumerate_canonical("backward"), range(25), strict=False)]


@pytest.mark.parametrize("celltype", ["forward", "backward"])
def test_random_draws_the_original_sampler_in_order_skipping_canonical_repeats(celltype):
    cells = drain(make_strategy("random", celltype, seed=7, budget=300), limit=3)
    assert len(cells) == len(set(cells)) == 300
    # the same draws, made by hand with the original's sampler
    g = torch.Generator().manual_seed(7)
    expected: list[Architecture] = []
    while len(expected) < 300:
        arch = sample(g, celltype).canonical()
        if arch not in expected:
            expected.append(arch)
    assert cells == expected
    assert all(c == c.canonical() and c.has_input_output_edge for c in cells)


def test_random_asking_for_more_than_the_space_scores_the_whole_space_and_says_so():
    strategy = make_strategy("random", "forward", seed=0, budget=10**6)
    assert strategy.budget == 7012 and strategy.space_exhausted
    assert make_strategy("random", "forward", seed=0).budget == DEFAULT_BUDGET
    assert not make_strategy("random", "forward", seed=0).space_exhausted


def counting_draws(monkeypatch, most: int) -> list[int]:
    """Count the strategies' sampler draws; fail at draw ``most`` + 1 rather than draw on for minutes."""
    draws = [0]

    def counted(generator, celltype):
        draws[0] += 1
        assert draws[0] <= most, f"more than {most} sampler draws"
        return sample(generator, celltype)

    monkeypatch.setattr(strategies, "sample", counted)
    return draws


@pytest.mark.slow
def test_random_near_the_space_size_is_quick_and_a_prefix_of_the_whole_space_order(monkeypatch):
    # -n 7000 of the 7012 forward cells: the sampler's last cells are so rare that drawing them all took
    # millions of draws; and the order must not depend on the budget, so that a resume with another -n
    # continues it
    # (seed 0 stalls after 31045 draws, at 6462 sampler cells; then the rest comes shuffled)
    draws = counting_draws(monkeypatch, most=40_000)
    near = drain(make_strategy("random", "forward", seed=0, budget=7000), limit=7)
    near_draws, draws[0] = draws[0], 0
    whole = drain(make_strategy("random", "forward", seed=0, budget=10**6), limit=1000)
    assert len(near) == len(set(near)) == 7000
    assert len(whole) == 7012 and set(whole) == set(enumerate_canonical("forward"))
    assert near == whole[:7000]
    assert near_draws == draws[0], "the budget changes neither the cells nor the draws"
    assert whole[:300] == drain(make_strategy("random", "forward", seed=0, budget=300), limit=3)


def test_random_takes_the_unseen_cells_in_a_seeded_order_once_the_sampler_stops_finding_new_ones(monkeypatch):
    monkeypatch.setattr(strategies, "STALL_DRAWS", 5)
    cells = drain(make_strategy("random", "forward", seed=2, budget=7012), limit=50)
    # by hand: sampler cells until 5 draws in a row find none, then a permutation of the rest
    g = torch.Generator().manual_seed(2)
    expected: list[Architecture] = []
    misses = 0
    while misses < 5:
        arch = sample(g, "forward").canonical()
        misses = misses + 1 if arch in expected else 0
        if not misses:
            expected.append(arch)
    assert 100 < len(expected) < 7012 - 100, "the switch comes part of the way through"
    rest = [arch for arch in enumerate_canonical("forward") if arch not in expected]
    sampled = len(expected)
    expected += [rest[i] for i in torch.randperm(len(rest), generator=g).tolist()]
    assert cells == expected
    # the order does not depend on the budget: a budget past the switch gets the same first cells
    assert drain(make_strategy("random", "forward", seed=2, budget=sampled + 40), limit=7) == expected[: sampled + 40]


@pytest.mark.parametrize("name", ["random", "exhaustive", "evolution"])
def test_proposals_do_not_depend_on_how_many_are_asked_for_at_once(name):
    # the search asks for as many as it has ranks: the cells must not depend on that
    options = {"population": 10} if name == "evolution" else {}
    runs = [drain(make_strategy(name, "backward", seed=3, budget=60, **options), limit) for limit in (1, 2, 5)]
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) == len(set(runs[0])) == 60


def test_mutation_changes_exactly_one_node_pair_and_keeps_the_input_output_edge():
    g = torch.Generator().manual_seed(0)
    for celltype in ("forward", "backward"):
        for _ in range(300):
            parent = sample(g, celltype).canonical()
            child = mutate(parent, g)
            changed = [
                (r, c)
                for r, c in forward_slots()
                if (parent.op(r, c), parent.op(c, r)) != (child.op(r, c), child.op(c, r))
            ]
            assert len(changed) == 1, (parent, child)
            assert child.op(0, 3) != 0 and child.celltype == celltype
            r, c = changed[0]
            assert not (child.op(r, c) and child.op(c, r)), "a node pair holds one edge"


def test_evolution_starts_like_random_search_then_breeds_children_of_good_members():
    budget, population = 80, 10
    evolution = AgingEvolution("backward", seed=5, budget=budget, population=population, tournament=5)
    cells = drain(evolution)
    random = drain(make_strategy("random", "backward", seed=5, budget=population))
    assert cells[:population] == random
    assert len(cells) == len(set(cells)) == budget
    # each child is one edge change (then pruning) away from its parent, a cell scored before it
    scored_before = set(cells[:population])
    for child in cells[population:]:
        parent = evolution.parent_of[child]
        assert parent in scored_before and child in one_edge_neighbours(parent), (parent, child)
        scored_before.add(child)
    # selection works: with edges as the score, children have more edges than the founders
    founders = sum(map(edge_count, cells[:population])) / population
    last = sum(map(edge_count, cells[-20:])) / 20
    assert last > founders + 1, (founders, last)
    assert len(evolution.population) == population


def one_edge_neighbours(arch: Architecture) -> set[Architecture]:
    """Every canonical cell made by giving one node pair another edge (the input -> output edge a forward op)."""
    out = set()
    for r, c in forward_slots():
        for fwd, bwd in [(op, 0) for op in range(5)] + [(0, op) for op in range(1, 5)]:
            m = [list(row) for row in arch.matrix]
            m[r][c], m[c][r] = fwd, bwd
            if m[0][3] == 0 or (bwd and arch.celltype == "forward"):
                continue
            out.add(Architecture(tuple(map(tuple, m)), arch.celltype).canonical())
    return out - {arch}


def test_unknown_strategy_and_bad_budgets_are_refused_in_one_line():
    with pytest.raises(ConfigError, match="unknown strategy 'grid': choose one of random, exhaustive, evolution"):
        make_strategy("grid", "forward", seed=0)
    with pytest.raises(ConfigError, match="at least 1"):
        make_strategy("random", "forward", seed=0, budget=0)
    with pytest.raises(ConfigError, match="unknown cell type"):
        make_strategy("random", "sideways", seed=0)
    with pytest.raises(ValueError, match="already registered"):
        register_strategy("random")(AgingEvolution)
    assert list_strategies() == ["random", "exhaustive", "evolution"]  # registration order: the default first

"""Search strategies: which cells a search scores, in which order (registry: ``random``, ``exhaustive``,
``evolution``).

A strategy proposes canonical cells (``Architecture.canonical()``), never the same one twice, and is
told each one's score before it proposes again. Everything it draws comes from a generator seeded by the
search's seed, and what it proposes depends only on that seed and the scores it was told, not on its budget
(the first k cells of a budget are those of any larger one), so a search replays exactly: after an
interruption, with another budget, and with any number of ranks scoring the proposals.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator

import torch

from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry
from snasnet.network.arch import INPUT, OUTPUT, Architecture, enumerate_canonical, forward_slots, sample
from snasnet.search.pareto import crowding_distances, front_ranks

#: distinct canonical cells of each space: ``len(list(enumerate_canonical(celltype)))`` (checked by tests;
#: counting the backward space takes seconds).
SPACE_SIZES = {"forward": 7012, "backward": 102596}

#: consecutive sampler draws that found no new cell, after which ``draw_new`` takes the cells not yet seen in
#: a shuffled order: the sampler draws some cells far more rarely than others, so collecting the last ones
#: would take millions of draws. The forward space stalls after about 6400 distinct cells (30000 draws), so
#: searches of the default 5000 cells still get exactly the sampler's cells.
STALL_DRAWS = 100


class Strategy:
    """Proposes up to ``budget`` distinct canonical cells: ``propose(limit)`` returns the next ones (at
    most ``limit``; an empty list when it is done), ``observe(arch, score)`` reports a score, in the order
    the cells were proposed, before the next ``propose``. A search with several objectives reports a
    ``Fitness`` tuple instead: every objective as a value to minimise (``snasnet.search.objectives.minimised``)."""

    def __init__(self, celltype: str, seed: int, budget: int) -> None:
        self.celltype = celltype
        self.budget = min(budget, SPACE_SIZES[celltype])
        #: the search asked for more cells than its space holds
        self.space_exhausted = budget > self.budget
        self.generator = torch.Generator().manual_seed(seed)
        self.seen: set[Architecture] = set()
        #: the cells not seen when the sampler stalled, shuffled, next one last (None: still drawing)
        self._unseen: list[Architecture] | None = None

    def propose(self, limit: int) -> list[Architecture]:
        raise NotImplementedError

    def observe(self, arch: Architecture, score: Fitness) -> None:
        """Strategies that do not learn from scores ignore them."""

    def _remaining(self, limit: int) -> int:
        return max(0, min(limit, self.budget - len(self.seen)))

    def _accept(self, arch: Architecture) -> bool:
        """Take ``arch``'s canonical form if no earlier proposal had it."""
        if arch in self.seen:
            return False
        self.seen.add(arch)
        return True

    def draw_new(self) -> Architecture:
        """The next cell from the original's sampler whose canonical form is new; once ``STALL_DRAWS`` draws
        in a row found none, the next of the cells not seen by then, in an order drawn from the same
        generator. A budget is at most the space's size, so this ends."""
        if self._unseen is None:
            for _ in range(STALL_DRAWS):
                arch = sample(self.generator, self.celltype).canonical()
                if self._accept(arch):
                    return arch
            rest = [arch for arch in enumerate_canonical(self.celltype) if arch not in self.seen]
            self._unseen = [rest[i] for i in reversed(torch.randperm(len(rest), generator=self.generator).tolist())]
        while True:  # (evolution's children may have taken some of them since)
            arch = self._unseen.pop()
            if self._accept(arch):
                return arch


StrategyFactory = Callable[..., Strategy]
#: a score (higher is better), or several objectives' values to minimise
Fitness = float | tuple[float, ...]
STRATEGIES: Registry[StrategyFactory] = Registry("strategy")
register_strategy = STRATEGIES.register
list_strategies = STRATEGIES.names


def make_strategy(name: str, celltype: str, seed: int, budget: int | None = None, **options: object) -> Strategy:
    """The named strategy for a space; ``budget`` None means the whole space for ``exhaustive`` and
    ``DEFAULT_BUDGET`` otherwise. ``options`` are strategy-specific (evolution: population, tournament)."""
    factory = STRATEGIES.get(name)
    if celltype not in SPACE_SIZES:
        raise ConfigError(f"unknown cell type {celltype!r}: choose forward or backward")
    if budget is not None and budget < 1:
        raise ConfigError(f"the number of candidates must be at least 1 (got {budget})")
    return factory(celltype, seed, budget, **options)


#: candidates a random or evolution search scores unless told otherwise (the original's --num_search)
DEFAULT_BUDGET = 5000


@register_strategy("random")
class RandomSearch(Strategy):
    """The original's search: cells from its sampler (``snasnet.network.arch.sample``), in the order drawn, each
    canonical form once, until ``budget`` distinct cells are proposed; where the sampler stalls, the rest of
    the space in a random order (``draw_new``)."""

    def __init__(self, celltype: str, seed: int, budget: int | None = None) -> None:
        super().__init__(celltype, seed, DEFAULT_BUDGET if budget is None else budget)

    def propose(self, limit: int) -> list[Architecture]:
        return [self.draw_new() for _ in range(self._remaining(limit))]


@register_strategy("exhaustive")
class ExhaustiveSearch(Strategy):
    """Every canonical cell of the space, in ``enumerate_canonical``'s order (7012 forward, 102596
    backward); a budget stops it after that many (a resumed search with a larger budget goes on)."""

    def __init__(self, celltype: str, seed: int, budget: int | None = None) -> None:
        super().__init__(celltype, seed, SPACE_SIZES[celltype] if budget is None else budget)
        self._cells: Iterator[Architecture] = enumerate_canonical(celltype)

    def propose(self, limit: int) -> list[Architecture]:
        out = []
        for _ in range(self._remaining(limit)):
            arch = next(self._cells)
            self._accept(arch)
            out.append(arch)
        return out


# --- aging evolution ------------------------------------------------------------------------------
#: the states of a node pair (r < c): no edge, a forward edge r -> c or a backward edge c -> r, op 1-4
_PAIR_STATES = {
    "forward": [(0, 0)] + [(1, op) for op in range(1, 5)],
    "backward": [(0, 0)] + [(1, op) for op in range(1, 5)] + [(-1, op) for op in range(1, 5)],
}


def _pair_state(arch: Architecture, r: int, c: int) -> tuple[int, int]:
    if arch.op(r, c):
        return (1, arch.op(r, c))
    if arch.op(c, r):
        return (-1, arch.op(c, r))
    return (0, 0)


def mutate(arch: Architecture, generator: torch.Generator) -> Architecture:
    """Change one edge: a node pair chosen uniformly gets another state (no edge, or a forward or backward
    edge with another op), chosen uniformly. The input -> output edge stays a forward op (the original's
    constraint)."""
    pairs = forward_slots()
    r, c = pairs[int(torch.randint(len(pairs), (1,), generator=generator))]
    current = _pair_state(arch, r, c)
    states = [s for s in _PAIR_STATES[arch.celltype] if s != current]
    if (r, c) == (INPUT, OUTPUT):
        states = [s for s in states if s[0] == 1]
    direction, op = states[int(torch.randint(len(states), (1,), generator=generator))]
    m = [list(row) for row in arch.matrix]
    m[r][c] = op if direction == 1 else 0
    m[c][r] = op if direction == -1 else 0
    return Architecture(tuple(map(tuple, m)), arch.celltype)


@register_strategy("evolution")
class AgingEvolution(Strategy):
    """Aging (regularised) evolution, Real et al. 2019: a population of the ``population`` latest cells;
    each child mutates one edge of the best of ``tournament`` members drawn at random; the oldest member
    dies when a child joins. The first ``population`` cells come from the original's sampler (the same
    ones a random search with this seed starts with).

    Children are bred in rounds of ``round_size`` from the population as it was when the round began
    (rounds of several children keep several ranks busy; the round size is fixed, so the cells do not
    depend on the number of ranks). A child whose canonical form was scored before is bred again; after
    ``max_tries`` such children a fresh cell is drawn (``draw_new``).

    With several objectives the tournament follows NSGA-II (Deb et al. 2002): the winner is the member on the
    best front of the population, then the one with the largest crowding distance on that front, then the
    earliest drawn; members with a value that is not finite (a singular score) come after every front."""

    def __init__(
        self,
        celltype: str,
        seed: int,
        budget: int | None = None,
        population: int = 50,
        tournament: int = 10,
        round_size: int = 4,
        max_tries: int = 100,
    ) -> None:
        super().__init__(celltype, seed, DEFAULT_BUDGET if budget is None else budget)
        if population < 2 or tournament < 1 or round_size < 1:
            raise ConfigError(
                f"evolution needs a population of at least 2 and a tournament of at least 1 "
                f"(got population {population}, tournament {tournament})"
            )
        # small budgets: half of them found the population, the other half evolves it
        self.population_size = max(2, min(population, self.budget // 2))
        self.tournament = min(tournament, self.population_size)
        self.round_size = round_size
        self.max_tries = max_tries
        self.population: deque[tuple[Architecture, Fitness]] = deque()
        self._round: list[Architecture] = []  # children of the current round not yet proposed
        self._observed_children: list[tuple[Architecture, Fitness]] = []
        #: each child's parent
        self.parent_of: dict[Architecture, Architecture] = {}
        self._founders = 0  # founders proposed
        self._observed = 0  # scores told

    def propose(self, limit: int) -> list[Architecture]:
        if self._founders < self.population_size:
            count = min(self._remaining(limit), self.population_size - self._founders)
            self._founders += count
            return [self.draw_new() for _ in range(count)]
        if not self._round:  # (a round's children count in ``seen`` from their breeding on)
            self._age()
            self._round = self._breed(min(self.round_size, self.budget - len(self.seen)))
        out, self._round = self._round[:limit], self._round[limit:]
        return out

    def observe(self, arch: Architecture, score: Fitness) -> None:
        if self._observed < self.population_size:
            self.population.append((arch, score))
        else:
            self._observed_children.append((arch, score))
        self._observed += 1

    def _age(self) -> None:
        """The children of the last round join the population, each pushing out its oldest member."""
        for child in self._observed_children:
            self.population.append(child)
            self.population.popleft()
        self._observed_children = []

    def _breed(self, count: int) -> list[Architecture]:
        children = []
        members = list(self.population)
        merit = _merit([fitness for _, fitness in members])
        for _ in range(count):
            child = None
            for _ in range(self.max_tries):
                picks = torch.randperm(len(members), generator=self.generator)[: self.tournament].tolist()
                parent = members[max(sorted(picks), key=lambda i: merit[i])][0]
                candidate = mutate(parent, self.generator).canonical()
                if self._accept(candidate):
                    child, self.parent_of[candidate] = candidate, parent
                    break
            if child is None:  # the neighbourhood is used up: a fresh cell keeps the search going (the
                child = self.draw_new()  # budget is below the space's size, so the sampler finds one)
            children.append(child)
        return children


def _merit(values: list[Fitness]) -> list:
    """A key per member, larger is better (``max`` keeps the first of equals): the score itself with one
    objective; with several, NSGA-II's (lower front rank, then larger crowding distance on that front)."""
    if not values or not isinstance(values[0], tuple):
        return values
    finite = [i for i, v in enumerate(values) if all(math.isfinite(x) for x in v)]
    ranks = dict(zip(finite, front_ranks([values[i] for i in finite]), strict=True))
    crowding: dict[int, float] = {}
    for front in set(ranks.values()):
        members = [i for i in finite if ranks[i] == front]
        crowding.update(zip(members, crowding_distances([values[i] for i in members]), strict=True))
    worst = max(ranks.values(), default=0) + 1
    return [(-ranks.get(i, worst), crowding.get(i, -math.inf)) for i in range(len(values))]

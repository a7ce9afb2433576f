"""What a search ranks candidates by (registry: every score, ``sops``, ``macs``, ``params``, ``energy``), each with
its direction. One objective ranks the candidates by it (``sahd`` alone: the original's search); several give a
Pareto front (``snasnet.search.pareto``).

    objectives = parse_objectives("sahd,sops")      # (Objective("sahd", "max"), Objective("sops", "min"))
    minimised(objectives, candidate)                # (-score, sops): every objective as a value to minimise

A candidate's costs are measured in the pass that scores it (``snasnet.measure.synops``): synaptic operations and dense
MACs per image, parameters, and the SNN's energy per image that those counts come to (``snasnet.measure.energy``:
compute and memory traffic, as ``snasnet export energy`` prices a trained network).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry
from snasnet.measure.energy import DEFAULT_PROFILE
from snasnet.search.pareto import front_ranks, knee
from snasnet.search.score import SCORES, score_name

MAX, MIN = "max", "min"


class Measured(Protocol):
    """What an objective reads: a scored candidate (``snasnet.search.job.Candidate``)."""

    score: float
    sops: float | None
    macs: float | None
    params: int | None
    energy_pj: float | None


@dataclass(frozen=True)
class Objective:
    name: str
    direction: str  # MAX or MIN
    read: Callable[[Measured], float | None]
    description: str
    is_score: bool = False

    def value(self, candidate: Measured) -> float | None:
        return self.read(candidate)


OBJECTIVES: Registry[Objective] = Registry("objective")
list_objectives = OBJECTIVES.names


def _score_objective(name: str) -> Objective:
    return Objective(name, MAX, lambda c: c.score, f"the {name} score at initialisation (higher is better)", True)


for _name in SCORES.names():
    OBJECTIVES.add(_name, _score_objective(_name))
OBJECTIVES.add("sops", Objective("sops", MIN, lambda c: c.sops, "synaptic operations per image at initialisation"))
OBJECTIVES.add("macs", Objective("macs", MIN, lambda c: c.macs, "dense multiply-accumulates per image"))
OBJECTIVES.add("params", Objective("params", MIN, lambda c: c.params, "parameters"))
OBJECTIVES.add(
    "energy",
    Objective(
        "energy",
        MIN,
        lambda c: c.energy_pj,
        f"the SNN's energy per image at initialisation, compute and memory ({DEFAULT_PROFILE}, as export energy)",
    ),
)


def get_objective(name: str) -> Objective:
    """The objective called ``name`` (a score under a former name warns and gives the new one)."""
    return OBJECTIVES.get(score_name(name))


def parse_objectives(text: str | tuple[str, ...] | list[str]) -> tuple[Objective, ...]:
    """``"sahd,sops"`` (or a sequence of names) -> objectives; unknown, repeated, or two scores are refused."""
    names = [n.strip() for n in text.split(",")] if isinstance(text, str) else [str(n).strip() for n in text]
    if not names or any(not n for n in names):
        raise ConfigError(f"--objectives wants names separated by commas (got {text!r}): e.g. sahd,sops")
    objectives = tuple(get_objective(n) for n in names)
    seen = [o.name for o in objectives]
    if len(set(seen)) != len(seen):
        raise ConfigError(f"--objectives names an objective twice ({','.join(seen)}): give each once")
    scores = [o.name for o in objectives if o.is_score]
    if len(scores) > 1:
        raise ConfigError(
            f"--objectives names {len(scores)} scores ({', '.join(scores)}): a search computes one score, keep one"
        )
    return objectives


def minimised(objectives: tuple[Objective, ...], candidate: Measured) -> tuple[float, ...]:
    """The candidate's objectives as values to minimise (a maximised one negated); a missing value is +inf."""
    out = []
    for objective in objectives:
        value = objective.value(candidate)
        value = float("inf") if value is None else float(value)
        out.append(-value if objective.direction == MAX else value)
    return tuple(out)


# --- ranking and choosing ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Ranking:
    """Candidates best first, each one's front (several objectives; empty with one), and the front itself."""

    order: list
    fronts: dict[int, int]  # candidate index -> front rank (1: the Pareto front)
    front: list  # front-1 candidates, in ``order``'s order


def rank(candidates: list, objectives: tuple[Objective, ...]) -> Ranking:
    """One objective: best first, ties in the order proposed (``sahd`` alone: the original's ranking). Several:
    by front rank, then the objectives in the order given, then the order proposed. A candidate with a value
    that is not finite (a singular kernel's score: its spikes do not tell the images apart, and a silent network
    costs nothing) is ranked after every front and is on none."""
    values = {c.index: minimised(objectives, c) for c in candidates}
    if len(objectives) == 1:
        order = sorted(candidates, key=lambda c: (values[c.index], c.index))
        return Ranking(order, {}, [])
    finite = [c for c in candidates if all(math.isfinite(v) for v in values[c.index])]
    fronts = dict(zip((c.index for c in finite), front_ranks([values[c.index] for c in finite]), strict=True))
    last = max(fronts.values(), default=0) + 1
    order = sorted(candidates, key=lambda c: (fronts.get(c.index, last), values[c.index], c.index))
    return Ranking(order, fronts, [c for c in order if fronts.get(c.index) == 1])


#: a budget option -> the objective it bounds
BUDGETS = {"max_sops": "sops", "max_params": "params"}


@dataclass(frozen=True)
class Choice:
    candidate: object
    rule: str  # how it was chosen, in words (best_arch.json says it)


def _cost(candidate: Measured, name: str) -> float:
    value = get_objective(name).value(candidate)
    return math.inf if value is None else float(value)


def choose(ranking: Ranking, objectives: tuple[Objective, ...], score: str, budgets: dict[str, float]) -> Choice:
    """The cell a multi-objective search hands to training: the best ``score`` among the candidates within every
    budget (``{"max_sops": N}``), or with no budget the knee of the front (``pareto.knee``). If no candidate is
    within the budgets, the one that exceeds them least (by the sum of its excess over each budget, relative)."""
    limits = {BUDGETS[k]: v for k, v in budgets.items() if v is not None}
    scored = get_objective(score)
    if limits:
        said = ", ".join(f"{name} <= {limit:g}" for name, limit in limits.items())
        pool = ranking.order
        within = [c for c in pool if all(_cost(c, n) <= v for n, v in limits.items())]
        if within:
            best = min(within, key=lambda c: (minimised((scored,), c), c.index))
            return Choice(best, f"budget: the best {score} of the candidates with {said}")
        excess = {c.index: math.fsum(max(0.0, _cost(c, n) / v - 1) for n, v in limits.items()) for c in pool}
        best = min(pool, key=lambda c: (excess[c.index], minimised((scored,), c), c.index))
        return Choice(best, f"budget: no candidate has {said}; the one that exceeds it least")
    front = ranking.front or ranking.order[:1]
    at = knee([minimised(objectives, c) for c in front])
    return Choice(
        front[at],
        "knee: the front member nearest the ideal point (every objective at its best over the front), "
        "each objective scaled to [0, 1] over the front",
    )

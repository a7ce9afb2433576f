"""The training-free search: score the cells a strategy proposes at initialisation, rank them, and write
a run directory (DESIGN.md): ``events.jsonl`` (``candidate_scored`` per cell, ``search_finished``),
``candidates.csv`` and ``best_arch.json``, the input of ``snasnet train --arch-file``.

    from snasnet.search.job import SearchConfig, run_search
    result = run_search(SearchConfig(dataset="digits", num_search=40, seed=3), "runs/my-search")
    result.ranking[0]          # the best candidate: .arch, .score, .firing_rates

Reproducible: a candidate's weights are drawn from a seed made of the search's seed and its canonical
cell, and every candidate is scored on the same ``repeat`` batches, drawn once from the search's seed (the
original drew fresh random batches per candidate, which adds data noise to the ranking). So the same seed
gives the same candidates, scores and ranking on the same device, whatever the order in which they are
scored: after ``resume``, and under ``torchrun``, where the candidates are shared out across the ranks
and gathered on rank 0, which alone writes the run directory.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import Dataset

from snasnet.core.atomic import atomic_file, write_text
from snasnet.core.distributed import (
    DistEnv,
    broadcast_object,
    gather_objects,
    init_distributed,
    shared_run_dir,
    shutdown,
)
from snasnet.core.errors import MAX_BATCH_SIZE, MAX_TIMESTEPS, ConfigError, SnasnetError, check_at_most, check_seed
from snasnet.core.runs import EVENTS, EventReader, RunDir, package_versions
from snasnet.core.seeding import derive_seed
from snasnet.data.datasets import DataBundle, get_dataset
from snasnet.measure.energy import estimate_energy
from snasnet.measure.synops import CostCounter
from snasnet.network.arch import CELLTYPES, Architecture
from snasnet.network.arch_file import BEST_ARCH
from snasnet.network.model import build_model
from snasnet.network.norms import STEP
from snasnet.network.presets import default_timesteps
from snasnet.search.objectives import BUDGETS, Ranking, choose, minimised, parse_objectives, rank
from snasnet.search.pareto import crowding_distances
from snasnet.search.score import get_score, score_name, score_network
from snasnet.search.strategies import STRATEGIES, Strategy, make_strategy

CANDIDATES_CSV = "candidates.csv"
PARETO_CSV = "pareto.csv"
#: options a resumed search may change: how many candidates, where they run and read their data, how many
#: are shown, which cell of the front is chosen
RESUMABLE_CHANGES = ("num_search", "device", "data_dir", "download", "top_k", "max_sops", "max_params")


@dataclass(frozen=True)
class SearchConfig:
    """Everything that decides a search's result (stored in ``run.json``; ``--resume`` reads it back)."""

    dataset: str = "digits"
    data_dir: str | None = None
    download: bool = False
    celltype: str = "backward"
    strategy: str = "random"
    #: candidates to score; None: every cell for ``exhaustive``, 5000 otherwise
    num_search: int | None = None
    batch_size: int = 256
    repeat: int = 2
    #: T; None: the dataset's (an event dataset's frames per sample, else the original's 5)
    timesteps: int | None = None
    score: str = "sahd"
    seed: int = 0
    device: str = "auto"
    top_k: int = 10
    #: evolution: population size and tournament size
    population: int = 50
    tournament: int = 10
    #: what the candidates are ranked by (``snasnet.search.objectives``); None: the score alone
    objectives: tuple[str, ...] | None = None
    #: several objectives: the chosen cell is the best score within these budgets (per image), else the knee
    max_sops: float | None = None
    max_params: int | None = None
    #: dataset-specific options (``get_dataset``) and network overrides (``build_model``), for Python use
    dataset_options: dict = field(default_factory=dict)
    model_options: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.data_dir is not None:
            object.__setattr__(self, "data_dir", str(self.data_dir))
        if self.timesteps is None:
            object.__setattr__(self, "timesteps", default_timesteps(self.dataset))
        object.__setattr__(self, "score", score_name(self.score))  # a renamed score is recorded by its new name
        if self.objectives is not None:  # (run.json stores a list)
            names = tuple(score_name(str(n)) for n in self.objectives)
            # the score alone is the default: stored as None, so that naming it changes nothing on a resume
            object.__setattr__(self, "objectives", None if names == (self.score,) else names)

    def validate(self) -> None:
        """One clear error for a setting that cannot work (before any work starts; cheap: builds nothing)."""
        if self.celltype not in CELLTYPES:
            raise ConfigError(f"unknown cell type {self.celltype!r}: choose forward or backward")
        get_score(self.score)
        STRATEGIES.get(self.strategy)
        checks = (
            ("--num-search", self.num_search, 1),
            ("--batch-size", self.batch_size, 2),
            ("--repeat", self.repeat, 1),
            ("--timesteps", self.timesteps, 1),
            ("--top-k", self.top_k, 1),
            ("--population", self.population, 2),
            ("--tournament", self.tournament, 1),
        )
        for option, value, least in checks:
            if value is not None and value < least:
                raise ConfigError(f"{option} must be at least {least} (got {value})")
        check_at_most("--batch-size", self.batch_size, MAX_BATCH_SIZE)
        check_at_most("--timesteps", self.timesteps, MAX_TIMESTEPS)
        check_seed("--seed", self.seed)
        objectives = self.parsed_objectives()
        scores = [o.name for o in objectives if o.is_score]
        if scores and scores[0] != self.score:
            raise ConfigError(
                f"--objectives names the score {scores[0]} but --score is {self.score}: give one of them, or the same"
            )
        for key, name in BUDGETS.items():
            limit, option = getattr(self, key), "--" + key.replace("_", "-")
            if limit is None:
                continue
            if not limit > 0:
                raise ConfigError(f"{option} must be a positive number (got {limit})")
            if len(objectives) < 2 or name not in self.objective_names:
                raise ConfigError(
                    f"{option} bounds the {name} of a search with several objectives: give --objectives "
                    f"{self.score},{name} (got --objectives {','.join(self.objective_names)})"
                )

    @property
    def objective_names(self) -> tuple[str, ...]:
        """The objectives by name: the score alone unless ``objectives`` says otherwise."""
        return (self.score,) if self.objectives is None else self.objectives

    def parsed_objectives(self) -> tuple:
        return parse_objectives(self.objective_names)

    def budgets(self) -> dict[str, float]:
        return {key: getattr(self, key) for key in BUDGETS if getattr(self, key) is not None}

    def make_strategy(self) -> Strategy:
        options = {"population": self.population, "tournament": self.tournament} if self.strategy == "evolution" else {}
        return make_strategy(self.strategy, self.celltype, self.seed, self.num_search, **options)

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        if self.objectives is not None:  # as run.json reads back
            data["objectives"] = list(self.objectives)
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SearchConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    def replace(self, **changes: object) -> SearchConfig:
        return dataclasses.replace(self, **changes)


@dataclass
class Candidate:
    """One scored cell. ``index``: its place in the strategy's order (0-based). ``score`` is ``-inf`` when
    the kernel is singular (e.g. a network that does not fire)."""

    index: int
    arch: Architecture
    score: float
    firing_rates: dict[str, float]
    mean_firing_rate: float
    seconds: float
    worker: int = 0  # the rank that scored it
    #: the cost measured in the scoring pass (``snasnet.measure.synops``), per image; None in runs made before
    sops: float | None = None
    macs: float | None = None
    params: int | None = None
    #: the SNN's energy per image, compute and memory (``snasnet.measure.energy``, the default profile)
    energy_pj: float | None = None

    def to_event(self) -> dict:
        """The ``candidate_scored`` fields (docs/events.md); a non-finite score is written as null."""
        return {
            "index": self.index,
            "arch": str(self.arch),
            "celltype": self.arch.celltype,
            "canonical": str(self.arch.canonical()),
            "score": self.score if math.isfinite(self.score) else None,
            "firing_rates": self.firing_rates,
            "mean_firing_rate": self.mean_firing_rate,
            "seconds": round(self.seconds, 4),
            "worker": self.worker,
            "sops": self.sops,
            "macs": self.macs,
            "params": self.params,
            "energy_pj": self.energy_pj,
        }

    @classmethod
    def from_event(cls, event: dict) -> Candidate:
        score = event.get("score")
        return cls(
            index=int(event["index"]),
            arch=Architecture.parse(event["arch"], event["celltype"]),
            score=float("-inf") if score is None else float(score),
            firing_rates=dict(event.get("firing_rates") or {}),
            mean_firing_rate=float(event.get("mean_firing_rate") or 0.0),
            seconds=float(event.get("seconds") or 0.0),
            worker=int(event.get("worker") or 0),
            sops=_number(event.get("sops")),
            macs=_number(event.get("macs")),
            params=None if event.get("params") is None else int(event["params"]),
            energy_pj=_number(event.get("energy_pj")),
        )

    def summary(self) -> dict:
        """The ``search_finished`` top-k and front entry."""
        event = self.to_event()
        return {
            key: event[key]
            for key in ("index", "arch", "celltype", "canonical", "score", "sops", "macs", "params", "energy_pj")
        }


def _number(value: object) -> float | None:
    return None if value is None else float(value)


def ranked(candidates: list[Candidate]) -> list[Candidate]:
    """Best first; equal scores in the order they were proposed."""
    return sorted(candidates, key=lambda c: (-c.score, c.index))


@dataclass
class SearchResult:
    run_dir: Path
    candidates: list[Candidate]  # in the order they were proposed
    ranking: list[Candidate]  # best first (several objectives: by front rank)
    #: the search asked for more candidates than its space holds, and scored them all
    space_exhausted: bool
    best_arch_file: Path
    #: several objectives: the Pareto front (best first), each candidate's front rank, the chosen cell and why
    front: list[Candidate] = field(default_factory=list)
    fronts: dict[int, int] = field(default_factory=dict)
    chosen: Candidate | None = None
    rule: str | None = None


# --- scoring one candidate ------------------------------------------------------------------------
def candidate_seed(seed: int, arch: Architecture) -> int:
    """The seed of a candidate's initial weights: a function of the search's seed and the cell only, so a
    cell gets the same weights whenever, wherever and in whichever order it is scored."""
    return derive_seed(seed, arch.celltype, arch.canonical())


def scoring_batches(
    dataset: Dataset, batch_size: int, repeat: int, seed: int, device: torch.device | str = "cpu"
) -> list[torch.Tensor]:
    """``repeat`` batches of ``batch_size`` distinct images (a batch with the same image twice has a
    singular kernel), drawn with the search's seed; the same batches score every candidate."""
    size = len(dataset)
    if batch_size > size:
        raise ConfigError(
            f"--batch-size {batch_size} is larger than the {size} images to score on: choose at most {size}"
        )
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(repeat):
        indices = torch.randperm(size, generator=generator)[:batch_size].tolist()
        batches.append(torch.stack([dataset[i][0] for i in indices]).to(device))
    return batches


def score_candidate(
    arch: Architecture,
    batches: list[torch.Tensor],
    *,
    preset: str,
    score: str = "sahd",
    seed: int = 0,
    timesteps: int = 5,
    device: torch.device | str = "cpu",
    index: int = 0,
    worker: int = 0,
    **model_options: object,
) -> Candidate:
    """Build ``arch`` fresh (the original's initialisation, seeded by ``candidate_seed``) directly on the
    device and score it on ``batches`` (``score_network``: train mode, no autograd, state reset per batch),
    counting its synaptic operations and dense MACs per image in the same pass (``snasnet.measure.synops``: every
    step the scoring pass runs, the last step's feedback included), and pricing them (``snasnet.measure.energy``).
    Batch norms normalise each timestep with its own batch statistics, as the original scores (``norm`` ``step``),
    whatever training will use."""
    model_options.setdefault("norm", STEP)
    device = torch.device(device)
    start = time.perf_counter()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else [], device_type=device.type):
        torch.manual_seed(candidate_seed(seed, arch))
        with device:
            model = build_model(preset, arch, timesteps=timesteps, **model_options)
        with CostCounter(model) as counter:  # the cost from the same pass: hooks on the convolutions and linears
            result = score_network(model, batches, score)
    cost = counter.cost()
    energy = estimate_energy(counter.layers, counter.images).snn_pj  # DEFAULT_PROFILE, as the objective says
    return Candidate(
        index, arch, result.score, result.firing_rates, result.mean_firing_rate, time.perf_counter() - start, worker,
        cost.sops, cost.macs, cost.params, energy,
    )  # fmt: skip


# --- the run directory ----------------------------------------------------------------------------
def load_search_config(run_dir: str | os.PathLike) -> SearchConfig:
    """The configuration of the search in ``run_dir`` (its ``run.json``)."""
    info = RunDir(run_dir).read_info()
    if not info:
        raise ConfigError(f"{run_dir} holds no run (no readable run.json): give the directory of a search to resume")
    if info.get("job") != "search":
        raise ConfigError(f"{run_dir} holds a {info.get('job')!r} run, not a search: it cannot be resumed as one")
    return SearchConfig.from_dict(info.get("config") or {})


def resume_config(run_dir: str | os.PathLike, **changes: object) -> SearchConfig:
    """The stored configuration with ``changes``; only RESUMABLE_CHANGES may differ from it (anything else
    would change the candidates or their scores)."""
    stored = load_search_config(run_dir)
    wanted = stored.replace(**changes)  # (in the stored form: a renamed score by its new name)
    for key in changes:
        if key not in RESUMABLE_CHANGES and getattr(stored, key) != getattr(wanted, key):
            raise ConfigError(
                f"{run_dir} was searched with {key}={getattr(stored, key)!r}; a resumed search keeps its settings "
                f"(only {', '.join(RESUMABLE_CHANGES)} may change): drop that option, or start a new search"
            )
    if wanted.strategy == "evolution" and wanted.num_search != stored.num_search:
        # evolution's population shrinks to half of a small budget; a new budget must not resize the population
        # the recorded children were bred from, or the resumed run would propose other cells than it recorded
        wanted = wanted.replace(population=stored.make_strategy().population_size)
    return wanted


def read_scored(run_dir: str | os.PathLike) -> dict[int, Candidate]:
    """The candidates an earlier run recorded (``candidate_scored`` events; a torn last line is skipped)."""
    return _read_recorded(run_dir)[0]


def _read_recorded(run_dir: str | os.PathLike) -> tuple[dict[int, Candidate], dict]:
    """``read_scored``, and the first ``run_started`` event (what the events were made with)."""
    scored, first_start = {}, {}
    for event in EventReader(Path(run_dir) / EVENTS).read_new():
        if event["event"] == "run_started" and not first_start:
            first_start = event
        elif event["event"] == "candidate_scored":
            try:
                candidate = Candidate.from_event(event)
            except (KeyError, TypeError, ValueError, SnasnetError):
                continue
            scored[candidate.index] = candidate
    return scored, first_start


#: ``run_started`` fields that are options of the search
_STARTED_OPTIONS = ("strategy", "dataset", "celltype", "score", "seed")


def _origin(run_dir: Path, first_start: dict) -> dict:
    """What a run's recorded candidates were made with, read before a resume rewrites ``run.json``."""
    info = RunDir(run_dir).read_info()
    return {
        "started": {key: first_start[key] for key in _STARTED_OPTIONS if key in first_start},
        "config": info.get("config") or {},
        "snasnet": (info.get("versions") or {}).get("snasnet"),
    }


def _mismatch_reason(config: SearchConfig, origin: dict) -> str:
    """Why a resumed search proposes other cells than its events hold: the options that differ from what
    the events, then ``run.json``, were made with, or else the snasnet version."""
    now, differences = config.to_dict(), {}
    for source, recorded in (("its events were made with", origin["started"]), ("its run.json has", origin["config"])):
        for key, value in recorded.items():
            if key in now and key not in differences and key not in RESUMABLE_CHANGES and value != now[key]:
                differences[key] = f"{source} {key}={value!r}, this search {key}={now[key]!r}"
    if differences:
        return "; ".join(differences.values())
    version = package_versions().get("snasnet")
    if origin["snasnet"] != version:
        return f"its events were made by snasnet {origin['snasnet']}, which proposed other cells than {version}"
    return (
        "no option that decides the candidates differs from its run.json: its events come from another run, "
        "or from a snasnet that proposed other cells"
    )


#: ``front``: the candidate's front rank (1: on the Pareto front) in a search with several objectives
CSV_FIELDS = ("index", "rank", "score", "arch", "celltype", "mean_firing_rate", "seconds", "sops", "macs", "params",
              "energy_pj", "front")  # fmt: skip


def _blank(value: object) -> object:
    return "" if value is None else value


def _csv_row(candidate: Candidate, rank: int | None = None, front: int | None = None) -> list:
    return [
        candidate.index,
        _blank(rank),
        repr(candidate.score),
        str(candidate.arch),
        candidate.arch.celltype,
        f"{candidate.mean_firing_rate:.6f}",
        f"{candidate.seconds:.3f}",
        _blank(candidate.sops),
        _blank(candidate.macs),
        _blank(candidate.params),
        _blank(candidate.energy_pj),
        _blank(front),
    ]


def write_candidates_csv(
    path: Path, candidates: list[Candidate], ranks: dict[int, int] | None = None, fronts: dict[int, int] | None = None
) -> None:
    """All candidates in the order proposed, with their rank (and front) once known (written atomically)."""
    with atomic_file(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_FIELDS)
        for candidate in candidates:
            writer.writerow(
                _csv_row(candidate, (ranks or {}).get(candidate.index), (fronts or {}).get(candidate.index))
            )


PARETO_FIELDS = ("index", "arch", "celltype", "score", "sops", "macs", "params", "energy_pj", "crowding", "chosen")


def write_pareto_csv(path: Path, front: list[Candidate], crowding: list[float], chosen: Candidate) -> None:
    """The Pareto front, best first (as ranked), with each member's crowding distance and the chosen cell."""
    with atomic_file(path, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(PARETO_FIELDS)
        for candidate, distance in zip(front, crowding, strict=True):
            writer.writerow(
                [candidate.index, str(candidate.arch), candidate.arch.celltype, repr(candidate.score),
                 _blank(candidate.sops), _blank(candidate.macs), _blank(candidate.params), _blank(candidate.energy_pj),
                 repr(distance),
                 int(candidate.index == chosen.index)]
            )  # fmt: skip


def _append_csv(path: Path, candidate: Candidate) -> None:
    with open(path, "a", newline="") as f:
        csv.writer(f).writerow(_csv_row(candidate))


def write_best_arch(
    path: Path, best: Candidate, config: SearchConfig, front: list[Candidate] | None = None, rule: str | None = None
) -> None:
    """``{"arch", "celltype", "score", "dataset", "seed", ...}``: what ``snasnet train --arch-file`` reads
    (``Architecture.from_dict``). Several objectives: the chosen cell's fields, its costs, the ``rule`` that chose
    it, the objectives and the whole ``front``."""
    data = {
        **best.arch.to_dict(),
        "score": best.score if math.isfinite(best.score) else None,
        "score_name": config.score,
        "dataset": config.dataset,
        "seed": config.seed,
        "index": best.index,
        "timesteps": config.timesteps,
    }
    if front is not None:
        data.update(
            sops=best.sops,
            macs=best.macs,
            params=best.params,
            energy_pj=best.energy_pj,
            objectives=list(config.objective_names),
            budgets=config.budgets(),
            rule=rule,
            front=[c.summary() for c in front],
        )
    write_text(path, json.dumps(data, indent=2) + "\n")


# --- the search -----------------------------------------------------------------------------------
def _model_options(config: SearchConfig, bundle: DataBundle) -> tuple[str, dict]:
    """The network for the data: the dataset's preset, resized where the data differs from it."""
    return bundle.preset, {**bundle.model_overrides(), **config.model_options}


def run_search(
    config: SearchConfig,
    run_dir: str | os.PathLike | None = None,
    *,
    resume: bool = False,
    on_event: Callable[[dict], None] | None = None,
) -> SearchResult | None:
    """Run (or with ``resume``, continue) a search into ``run_dir`` (default ``runs/search-<time>``).
    ``on_event`` sees every event as it is written (how the CLI shows progress). Under ``torchrun`` every
    rank calls this; rank 0 returns the result, the others None. Ctrl-C or SIGTERM (see
    ``interrupts.sigterm_as_interrupt``) ends the run as ``cancelled``, resumable."""
    config.validate()
    strategy = config.make_strategy()
    own_group = not (dist.is_available() and dist.is_initialized())
    env, device = init_distributed(config.device)
    try:
        return _search(config, strategy, env, device, run_dir, resume, on_event)
    finally:
        if own_group:
            shutdown()


def _refuse_shrinking(path: Path, recorded: dict[int, Candidate], budget: int) -> None:
    """A resume never drops scored candidates from a run's products (candidates.csv, best_arch.json)."""
    if recorded and budget <= max(recorded):
        raise ConfigError(
            f"{path} holds {len(recorded)} scored candidates (up to index {max(recorded)}); resuming with "
            f"-n {budget} would leave {sum(i >= budget for i in recorded)} of them out of candidates.csv and "
            f"best_arch.json: give -n {max(recorded) + 1} or more (leave -n out to keep the run's own)"
        )


def _open_run(
    config: SearchConfig, env: DistEnv, run_dir: str | os.PathLike | None, resume: bool, budget: int
) -> tuple[RunDir, dict[int, Candidate], dict]:
    """Rank 0 makes (or reopens) the run directory and reads what a resumed run scored and what with (the
    origin, for ``_mismatch_reason``), refusing a ``budget`` that would drop some; the other ranks get the same
    directory, candidates and origin, or the same error, so no rank is left waiting."""
    path = shared_run_dir(run_dir, "search", env)
    error, scored, origin = None, {}, {}
    if env.is_main:
        try:
            if resume:
                if not (path / "run.json").is_file():
                    raise ConfigError(f"{path} holds no run to resume (no run.json)")
                recorded, first_start = _read_recorded(path)
                _refuse_shrinking(path, recorded, budget)  # before run.json takes the smaller budget
                scored, origin = {i: c.to_event() for i, c in recorded.items()}, _origin(path, first_start)
            run = RunDir.create(
                "search", config.to_dict(), path, celltype=config.celltype, seed=config.seed, resume=resume
            )
        except SnasnetError as exc:
            error = str(exc)
            if not env.enabled:
                raise
    error, scored, origin = broadcast_object((error, scored, origin), env)
    if error is not None:
        raise SnasnetError(error)
    if not env.is_main:
        run = RunDir(path, enabled=False)
    return run, {i: Candidate.from_event(e) for i, e in scored.items()}, origin


def _search(
    config: SearchConfig,
    strategy: Strategy,
    env: DistEnv,
    device: torch.device,
    run_dir: str | os.PathLike | None,
    resume: bool,
    on_event: Callable[[dict], None] | None,
) -> SearchResult | None:
    bundle = get_dataset(
        config.dataset, config.data_dir, config.download, model_timesteps=config.timesteps, **config.dataset_options
    )
    preset, model_options = _model_options(config, bundle)
    batches = scoring_batches(bundle.search_set, config.batch_size, config.repeat, config.seed, device)
    objectives = config.parsed_objectives()
    run, earlier, origin = _open_run(config, env, run_dir, resume, strategy.budget)
    if on_event is not None:
        run.subscribe(on_event)
    csv_path = run.path / CANDIDATES_CSV
    candidates: list[Candidate] = []
    started = {
        "job": "search",
        "total": strategy.budget,
        "strategy": config.strategy,
        "dataset": config.dataset,
        "celltype": config.celltype,
        "score": config.score,
        "objectives": list(config.objective_names),
        "seed": config.seed,
        "world_size": env.world_size,
        "device": str(device),
        "resumed": len(earlier) if resume else None,
        "space_exhausted": strategy.space_exhausted,
    }
    with run.job(**started):
        if run.enabled:
            write_candidates_csv(csv_path, [])
        while proposals := strategy.propose(env.world_size):
            first = len(candidates)
            todo = [(first + i, arch) for i, arch in enumerate(proposals) if first + i not in earlier]
            mine = [
                score_candidate(
                    arch,
                    batches,
                    preset=preset,
                    score=config.score,
                    seed=config.seed,
                    timesteps=config.timesteps,
                    device=device,
                    index=index,
                    worker=env.rank,
                    **model_options,
                ).to_event()
                for index, arch in todo[env.rank :: env.world_size]
            ]
            new = {event["index"]: event for events in gather_objects(mine, env) for event in events}
            for i, arch in enumerate(proposals, start=first):
                if i in new:
                    candidate = Candidate.from_event(new[i])
                    run.emit("candidate_scored", **new[i])
                elif earlier[i].arch != arch:
                    raise ConfigError(
                        f"{run.path} recorded candidate {i} as {earlier[i].arch}, but this search proposes {arch}: "
                        f"{_mismatch_reason(config, origin)}; start a new search"
                    )
                else:
                    candidate = earlier[i]
                if run.enabled:
                    _append_csv(csv_path, candidate)
                strategy.observe(arch, _fitness(objectives, candidate))
                candidates.append(candidate)
        ranks = rank(candidates, objectives)
        ranking, several = ranks.order, len(objectives) > 1
        chosen = choose(ranks, objectives, config.score, config.budgets()) if several and ranking else None
        best_file = run.path / BEST_ARCH
        if run.enabled and ranking:
            order = {c.index: r for r, c in enumerate(ranking, start=1)}
            write_candidates_csv(csv_path, candidates, order, ranks.fronts)
            if chosen is None:
                write_best_arch(best_file, ranking[0], config)
            else:
                write_best_arch(best_file, chosen.candidate, config, ranks.front, chosen.rule)
                crowding = crowding_distances([minimised(objectives, c) for c in ranks.front])
                write_pareto_csv(run.path / PARETO_CSV, ranks.front, crowding, chosen.candidate)
        run.emit("search_finished", **_finished_fields(config, candidates, ranks, chosen, best_file, strategy))
    if not env.is_main:
        return None
    return SearchResult(
        run.path, candidates, ranking, strategy.space_exhausted, best_file, ranks.front, ranks.fronts,
        chosen.candidate if chosen else None, chosen.rule if chosen else None,
    )  # fmt: skip


def _fitness(objectives: tuple, candidate: Candidate) -> float | tuple[float, ...]:
    """What a strategy is told: with one objective a number, higher better (``sahd`` alone: the score); with
    several, the objectives as values to minimise (``minimised``)."""
    values = minimised(objectives, candidate)
    return -values[0] if len(values) == 1 else values


def _finished_fields(
    config: SearchConfig, candidates: list[Candidate], ranks: Ranking, chosen, best_file: Path, strategy: Strategy
) -> dict:
    fields_ = {
        "candidates": len(candidates),
        "top": [
            {**c.summary(), **({"front": ranks.fronts[c.index]} if c.index in ranks.fronts else {})}
            for c in ranks.order[: config.top_k]
        ],
        "best_arch_file": str(best_file),
        "space_exhausted": strategy.space_exhausted,
    }
    if chosen is not None:
        fields_.update(
            objectives=list(config.objective_names),
            front=[c.summary() for c in ranks.front],
            chosen={"index": chosen.candidate.index, "rule": chosen.rule},
        )
    return fields_

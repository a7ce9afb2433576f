"""What the dashboard shows about one run, as a pure function of the run's events (docs/events.md).

``reduce(state, events)`` folds a batch of parsed events into a new ``RunState`` without touching the old one, so
``reduce(reduce(s, a), b) == reduce(s, a + b)``: the dashboard can feed whatever a poll of ``events.jsonl`` returned,
and tests drive it with hand-written events. No I/O, no clock (rates and ETAs come from the events' ``ts``), and no
textual or torch import: it runs in a worker thread of the dashboard and in tests without a terminal.

Events and fields this module does not know are ignored (counted in ``unknown_events``); a known field with a value
of the wrong type reads as missing, never as a crash.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType

#: training steps kept for the curves; past this every other point is dropped, so a long run keeps its whole
#: history at a coarser grain in bounded memory (epoch-level points are all kept).
MAX_STEP_POINTS = 2000
FINISHED = ("ok", "failed", "cancelled")
_EMPTY: Mapping[str, float] = MappingProxyType({})


# --- field readers: tolerate what a hand-edited or half-written event may hold ---------------------------------
def _num(value: object) -> float | None:
    """A JSON number as float (``-Infinity`` kept: a singular kernel matrix scores -inf); anything else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return None if math.isnan(value) else float(value)


def _int(value: object) -> int | None:
    number = _num(value)
    return int(number) if number is not None and math.isfinite(number) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _per_layer(value: object) -> Mapping[str, float]:
    """``{"layer name": number}`` with the non-numbers left out, read-only."""
    if not isinstance(value, dict):
        return _EMPTY
    return MappingProxyType({str(k): n for k, v in value.items() if (n := _num(v)) is not None})


def weighted_firing_rate(firing_rates: Mapping[str, float], spikes_per_image: Mapping[str, float]) -> float | None:
    """The library's mean firing rate (``snasnet.measure.spikes``: all spikes over all neuron-steps, so a big layer
    weighs more) from an event's per-layer figures, for events that do not carry ``mean_firing_rate``. A layer's
    neuron-steps per image are its spikes per image over its rate; a silent layer's size is not in the event,
    so it is left out. None without spike counts (an unweighted mean would not be the library's figure)."""
    spikes = slots = 0.0
    for name, rate in firing_rates.items():
        count = spikes_per_image.get(name)
        if count is None:
            return None
        if rate > 0:
            spikes, slots = spikes + count, slots + count / rate
    if slots:
        return spikes / slots
    return 0.0 if firing_rates else None  # every layer silent: 0, as the library says


def _rate(done: int, since: int, first_ts: float | None, last_ts: float | None) -> float | None:
    """Items per second between two event timestamps (None until some time has passed)."""
    if first_ts is None or last_ts is None or last_ts <= first_ts or done <= since:
        return None
    return (done - since) / (last_ts - first_ts)


# --- the state ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Candidate:
    """One scored architecture of a search."""

    index: int
    arch: str
    celltype: str = "backward"
    canonical: str | None = None
    score: float | None = None
    seconds: float | None = None
    firing_rates: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    #: the event's own figure (all spikes over all neuron-steps), the one candidates.csv and `snasnet eval` show
    mean_firing_rate: float | None = None
    #: cost at initialisation, per image (None in runs made before searches measured it)
    sops: float | None = None
    macs: float | None = None
    params: int | None = None

    @property
    def sort_score(self) -> float:
        """The score for ordering: a missing score ranks below every real one."""
        return self.score if self.score is not None else -math.inf


@dataclass(frozen=True)
class SearchState:
    total: int | None = None
    strategy: str | None = None
    dataset: str | None = None
    candidates: tuple[Candidate, ...] = ()
    best: Candidate | None = None
    top: tuple[Candidate, ...] = ()  # search_finished's list, best first
    best_arch_file: str | None = None
    #: the run's objectives (run_started) and, once finished with several, its Pareto front (candidate indices)
    objectives: tuple[str, ...] = ()
    front: tuple[int, ...] = ()
    #: several objectives: why ``best`` (the cell in best_arch.json) was chosen
    chosen_rule: str | None = None
    finished: bool = False
    stopped: bool = False  # the run ended (cancelled or failed too): no ETA
    started_ts: float | None = None  # the latest run_started: a resumed search restarts the clock
    done_at_start: int = 0
    last_ts: float | None = None

    @property
    def done(self) -> int:
        return len(self.candidates)

    @property
    def progress(self) -> float | None:
        return min(1.0, self.done / self.total) if self.total else None

    @property
    def rate(self) -> float | None:
        """Candidates scored per second since the job (re)started."""
        return _rate(self.done, self.done_at_start, self.started_ts, self.last_ts)

    @property
    def eta_seconds(self) -> float | None:
        if self.finished or self.stopped or self.total is None:
            return 0.0 if self.finished else None
        rate = self.rate
        return max(0, self.total - self.done) / rate if rate else None

    def finite_scores(self) -> list[float]:
        """Scores that can go in a histogram."""
        return [c.score for c in self.candidates if c.score is not None and math.isfinite(c.score)]


@dataclass(frozen=True)
class StepPoint:
    """One throttled ``train_step``: where in training, and the running loss and accuracy."""

    epoch: int
    step: int
    steps: int | None
    loss: float | None
    acc: float | None
    lr: float | None
    images_per_s: float | None

    @property
    def position(self) -> float:
        """Fractional epoch (epoch 1 halfway through is 0.5), the x axis of the curves."""
        return self.epoch - 1 + (self.step / self.steps if self.steps else 1.0)


@dataclass(frozen=True)
class SpikeReading:
    """Per-layer firing rates (fractions) and spikes per image, from one epoch, one evaluation or one candidate."""

    label: str
    firing_rates: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    spikes_per_image: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    total_spikes_per_image: float | None = None
    reported_mean_firing_rate: float | None = None  # the event's mean_firing_rate, where it has one
    arch: str | None = None  # a search candidate's cell (else the run's), to name layers by their edge

    def layers(self) -> list[tuple[str, float | None, float | None]]:
        """(layer, firing rate, spikes per image) in the order the job wrote them."""
        names = list(self.firing_rates) + [n for n in self.spikes_per_image if n not in self.firing_rates]
        return [(n, self.firing_rates.get(n), self.spikes_per_image.get(n)) for n in names]

    @property
    def mean_firing_rate(self) -> float | None:
        """The event's figure, else the same weighting computed from the per-layer rates and counts."""
        if self.reported_mean_firing_rate is not None:
            return self.reported_mean_firing_rate
        return weighted_firing_rate(self.firing_rates, self.spikes_per_image)


@dataclass(frozen=True)
class EpochPoint:
    epoch: int
    epochs: int | None
    train_loss: float | None
    train_acc: float | None
    val_loss: float | None
    val_acc: float | None
    val_top5: float | None
    lr: float | None
    images_per_s: float | None
    seconds: float | None
    spikes: SpikeReading


@dataclass(frozen=True)
class Checkpoint:
    path: str
    kind: str
    epoch: int | None


@dataclass(frozen=True)
class TestResult:
    """best.pt on the test split, once, at the end of a training (``test_finished``)."""

    top1: float | None
    top5: float | None
    images: int | None
    epoch: int | None  # the epoch best.pt was saved at
    selected_on: str | None  # "val", or "test" (the original's protocol)


@dataclass(frozen=True)
class TrainState:
    epochs: int | None = None
    steps_per_epoch: int | None = None
    dataset: str | None = None
    arch: str | None = None
    celltype: str | None = None
    steps: tuple[StepPoint, ...] = ()
    epoch_log: tuple[EpochPoint, ...] = ()
    checkpoints: tuple[Checkpoint, ...] = ()
    last_step: StepPoint | None = None
    #: what best.pt is chosen on (run_started): "val" (held-out or the dataset's own images) or "test"
    select_on: str | None = None
    val_images: int | None = None
    test: TestResult | None = None
    stopped: bool = False  # the run ended (cancelled or failed too): no ETA
    started_ts: float | None = None
    done_at_start: int = 0
    last_ts: float | None = None

    @property
    def steps_done(self) -> int:
        """Optimiser steps finished, counting whole epochs from epoch_finished and the rest from train_step."""
        per = self.steps_per_epoch or (self.last_step.steps if self.last_step else None) or 0
        done = self.epoch_log[-1].epoch * per if self.epoch_log else 0
        if self.last_step is not None:
            done = max(done, (self.last_step.epoch - 1) * per + self.last_step.step)
        return done

    @property
    def current_epoch(self) -> int:
        """The epoch under way (or the last one finished)."""
        finished = self.epoch_log[-1].epoch if self.epoch_log else 0
        running = self.last_step.epoch if self.last_step else 0
        return max(finished, running)

    @property
    def progress(self) -> float | None:
        total = (self.epochs or 0) * (self.steps_per_epoch or 0)
        return min(1.0, self.steps_done / total) if total else None

    @property
    def eta_seconds(self) -> float | None:
        total = (self.epochs or 0) * (self.steps_per_epoch or 0)
        rate = _rate(self.steps_done, self.done_at_start, self.started_ts, self.last_ts)
        if not total or not rate or self.stopped:
            return None
        return max(0, total - self.steps_done) / rate

    @property
    def lr(self) -> float | None:
        candidates = [self.last_step.lr if self.last_step else None, self.epoch_log[-1].lr if self.epoch_log else None]
        return next((v for v in candidates if v is not None), None)

    @property
    def images_per_s(self) -> float | None:
        if self.last_step is not None and self.last_step.images_per_s is not None:
            return self.last_step.images_per_s
        return self.epoch_log[-1].images_per_s if self.epoch_log else None

    @property
    def final_val_acc(self) -> float | None:
        """Validation accuracy of the latest epoch that was validated."""
        return next((e.val_acc for e in reversed(self.epoch_log) if e.val_acc is not None), None)

    @property
    def best_val_acc(self) -> float | None:
        best = self.best_epoch
        return best.val_acc if best is not None else None

    @property
    def best_epoch(self) -> EpochPoint | None:
        """The epoch best.pt holds: the first with the highest validation accuracy (as the trainer keeps it)."""
        validated = [e for e in self.epoch_log if e.val_acc is not None]
        return max(validated, key=lambda e: e.val_acc, default=None)


@dataclass(frozen=True)
class EvalResult:
    checkpoint: str | None
    dataset: str | None
    top1: float | None
    top5: float | None
    loss: float | None
    images: int | None
    spikes: SpikeReading


@dataclass(frozen=True)
class ExportResult:
    format: str
    path: str | None
    figures: Mapping[str, object] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True)
class RunState:
    """Everything the dashboard knows about one run from its events."""

    job: str | None = None
    status: str = "unknown"  # running | ok | failed | cancelled; unknown before any event
    error: str | None = None
    started_ts: float | None = None
    finished_ts: float | None = None
    last_ts: float | None = None
    events: int = 0
    unknown_events: int = 0
    checkpoint: str | None = None  # eval / export: what they read
    search: SearchState = field(default_factory=SearchState)
    train: TrainState = field(default_factory=TrainState)
    evaluation: EvalResult | None = None
    exports: tuple[ExportResult, ...] = ()

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def spikes(self) -> SpikeReading | None:
        """The run's latest spike statistics: an evaluation, the last validated epoch of a training, else the
        best candidate of a search (firing rates at initialisation, no counts)."""
        if self.evaluation is not None:
            return self.evaluation.spikes
        measured = [e.spikes for e in self.train.epoch_log if e.spikes.firing_rates or e.spikes.spikes_per_image]
        if measured:  # epochs that were not validated carry no spike statistics
            return measured[-1]
        best = self.search.best
        if best is not None and best.firing_rates:
            label = f"candidate #{best.index} at initialisation"
            return SpikeReading(
                label, best.firing_rates, reported_mean_firing_rate=best.mean_firing_rate, arch=best.arch
            )
        return None


# --- the reducer ----------------------------------------------------------------------------------------------
class _Draft:
    """Mutable copies of a state's fields for one batch: sequences become lists, so a batch of n events costs
    O(n) and not O(n * length) (a search of thousands of candidates replays at once)."""

    def __init__(self, state: RunState) -> None:
        self.run = self._open(state)
        self.search = self._open(state.search)
        self.train = self._open(state.train)

    @staticmethod
    def _open(obj: object) -> dict:
        return {f.name: list(v) if isinstance(v := getattr(obj, f.name), tuple) else v for f in fields(obj)}

    @staticmethod
    def _close(cls: type, values: dict) -> object:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})

    def freeze(self) -> RunState:
        run = dict(self.run, search=self._close(SearchState, self.search), train=self._close(TrainState, self.train))
        return self._close(RunState, run)


def _on_run_started(d: _Draft, e: Mapping) -> None:
    ts = _num(e.get("ts"))
    d.run.update(job=_str(e.get("job")) or d.run["job"], status="running", error=None, finished_ts=None)
    if d.run["started_ts"] is None:
        d.run["started_ts"] = ts
    d.run["checkpoint"] = _str(e.get("checkpoint")) or d.run["checkpoint"]
    s, t = d.search, d.train
    s.update(started_ts=ts, done_at_start=len(s["candidates"]), finished=False)
    for key in ("strategy", "dataset"):
        s[key] = _str(e.get(key)) or s[key]
    objectives = e.get("objectives")
    if isinstance(objectives, list) and all(isinstance(o, str) for o in objectives):
        s["objectives"] = list(objectives)
    s["total"] = _int(e.get("total")) if _int(e.get("total")) is not None else s["total"]
    t["started_ts"] = ts
    t["done_at_start"] = _Draft._close(TrainState, t).steps_done
    for key in ("dataset", "arch", "celltype"):
        t[key] = _str(e.get(key)) or t[key]
    for key in ("epochs", "steps_per_epoch", "val_images"):
        t[key] = _int(e.get(key)) if _int(e.get(key)) is not None else t[key]
    t["select_on"] = _str(e.get("select_on")) or t["select_on"]
    s["stopped"] = t["stopped"] = False


def _candidate(e: Mapping) -> Candidate | None:
    index, arch = _int(e.get("index")), _str(e.get("arch"))
    if index is None or arch is None:
        return None
    return Candidate(
        index=index,
        arch=arch,
        celltype=_str(e.get("celltype")) or "backward",
        canonical=_str(e.get("canonical")),
        score=_num(e.get("score")),
        seconds=_num(e.get("seconds")),
        firing_rates=_per_layer(e.get("firing_rates")),
        mean_firing_rate=_num(e.get("mean_firing_rate")),
        sops=_num(e.get("sops")),
        macs=_num(e.get("macs")),
        params=_int(e.get("params")),
    )


def _on_candidate_scored(d: _Draft, e: Mapping) -> None:
    cand = _candidate(e)
    if cand is None:
        d.run["unknown_events"] += 1
        return
    s = d.search
    s["candidates"].append(cand)
    s["last_ts"] = _num(e.get("ts")) or s["last_ts"]
    if s["best"] is None or cand.sort_score > s["best"].sort_score:
        s["best"] = cand


def _on_search_finished(d: _Draft, e: Mapping) -> None:
    s = d.search
    by_index = {c.index: c for c in s["candidates"]}
    top = [c for item in e.get("top") or [] if isinstance(item, dict) and (c := _candidate(item)) is not None]
    # the top list carries no firing rates: take them from the candidate_scored event of the same index
    top = [
        replace(c, firing_rates=by_index[c.index].firing_rates, mean_firing_rate=by_index[c.index].mean_firing_rate)
        if c.index in by_index
        else c
        for c in top
    ]
    s.update(top=top, finished=True, best_arch_file=_str(e.get("best_arch_file")))
    if top:
        s["best"] = top[0]
    front = [
        i for item in e.get("front") or [] if isinstance(item, dict) and (i := _int(item.get("index"))) is not None
    ]
    s["front"] = front
    chosen = e.get("chosen") if isinstance(e.get("chosen"), dict) else {}
    index = _int(chosen.get("index"))
    if index is not None and index in by_index:  # several objectives: best_arch.json holds the chosen cell
        s.update(best=by_index[index], chosen_rule=_str(chosen.get("rule")))
    s["last_ts"] = _num(e.get("ts")) or s["last_ts"]


def _on_train_step(d: _Draft, e: Mapping) -> None:
    epoch, step = _int(e.get("epoch")), _int(e.get("step"))
    if epoch is None or step is None:
        d.run["unknown_events"] += 1
        return
    point = StepPoint(
        epoch, step, _int(e.get("steps")), _num(e.get("loss")), _num(e.get("acc")), _num(e.get("lr")),
        _num(e.get("images_per_s")),
    )  # fmt: skip
    t = d.train
    t["steps"].append(point)
    if len(t["steps"]) > MAX_STEP_POINTS:
        t["steps"] = t["steps"][::2]
    t["last_step"] = point
    if t["steps_per_epoch"] is None and point.steps:
        t["steps_per_epoch"] = point.steps
    t["last_ts"] = _num(e.get("ts")) or t["last_ts"]


def _spikes(label: str, e: Mapping) -> SpikeReading:
    return SpikeReading(
        label, _per_layer(e.get("firing_rates")), _per_layer(e.get("spikes_per_image")),
        _num(e.get("total_spikes_per_image")), _num(e.get("mean_firing_rate")),
    )  # fmt: skip


def _on_epoch_finished(d: _Draft, e: Mapping) -> None:
    epoch = _int(e.get("epoch"))
    if epoch is None:
        d.run["unknown_events"] += 1
        return
    spikes = _spikes(f"epoch {epoch}", e)
    point = EpochPoint(
        epoch, _int(e.get("epochs")), _num(e.get("train_loss")), _num(e.get("train_acc")), _num(e.get("val_loss")),
        _num(e.get("val_acc")), _num(e.get("val_top5")), _num(e.get("lr")), _num(e.get("images_per_s")),
        _num(e.get("seconds")), spikes,
    )  # fmt: skip
    t = d.train
    # a resumed run may repeat an epoch: the newer one replaces it
    t["epoch_log"] = [p for p in t["epoch_log"] if p.epoch < epoch] + [point]
    t["epochs"] = point.epochs or t["epochs"]
    t["last_ts"] = _num(e.get("ts")) or t["last_ts"]


def _on_checkpoint_saved(d: _Draft, e: Mapping) -> None:
    path = _str(e.get("path"))
    if path is None:
        d.run["unknown_events"] += 1
        return
    d.train["checkpoints"].append(Checkpoint(path, _str(e.get("kind")) or "last", _int(e.get("epoch"))))


def _on_test_finished(d: _Draft, e: Mapping) -> None:
    d.train["test"] = TestResult(
        _num(e.get("top1")), _num(e.get("top5")), _int(e.get("images")), _int(e.get("epoch")),
        _str(e.get("selected_on")),
    )  # fmt: skip


def _on_eval_finished(d: _Draft, e: Mapping) -> None:
    d.run["evaluation"] = EvalResult(
        _str(e.get("checkpoint")), _str(e.get("dataset")), _num(e.get("top1")), _num(e.get("top5")),
        _num(e.get("loss")), _int(e.get("images")), _spikes("evaluation", e),
    )  # fmt: skip


def _on_export_finished(d: _Draft, e: Mapping) -> None:
    known = {"v", "ts", "event", "format", "path"}
    figures = MappingProxyType({k: v for k, v in e.items() if k not in known})
    d.run["exports"].append(ExportResult(_str(e.get("format")) or "?", _str(e.get("path")), figures))


def _on_run_finished(d: _Draft, e: Mapping) -> None:
    status = _str(e.get("status"))
    d.run.update(status=status if status in FINISHED else "failed", error=_str(e.get("error")))
    d.run["finished_ts"] = _num(e.get("ts"))
    d.search["stopped"] = d.train["stopped"] = True


_HANDLERS: dict[str, Callable[[_Draft, Mapping], None]] = {
    "run_started": _on_run_started,
    "candidate_scored": _on_candidate_scored,
    "search_finished": _on_search_finished,
    "train_step": _on_train_step,
    "epoch_finished": _on_epoch_finished,
    "checkpoint_saved": _on_checkpoint_saved,
    "test_finished": _on_test_finished,
    "eval_finished": _on_eval_finished,
    "export_finished": _on_export_finished,
    "run_finished": _on_run_finished,
}


def reduce(state: RunState, events: Iterable[Mapping]) -> RunState:
    """The state after ``events`` (parsed lines of events.jsonl, in order). ``state`` is left as it was."""
    draft = _Draft(state)
    for event in events:
        handler = _HANDLERS.get(event.get("event"))
        draft.run["events"] += 1
        ts = _num(event.get("ts"))
        if ts is not None:
            draft.run["last_ts"] = ts
        if handler is None:
            draft.run["unknown_events"] += 1
            continue
        handler(draft, event)
    return draft.freeze()


def replay(events: Iterable[Mapping]) -> RunState:
    """The state of a run from all its events."""
    return reduce(RunState(), events)


def with_info(state: RunState, info: Mapping) -> RunState:
    """Fill in from ``run.json`` what the events do not say yet (a run whose events file is still empty, or whose
    job died before writing run_finished: run.json's status is then the last word)."""
    status = info.get("status")
    updates: dict = {}
    if state.job is None and isinstance(info.get("job"), str):
        updates["job"] = info["job"]
    if status in (*FINISHED, "running") and not state.finished:
        updates["status"] = status
        if status in FINISHED:
            updates["error"] = state.error or _str(info.get("error"))
    if state.started_ts is None and _num(info.get("started")) is not None:
        updates["started_ts"] = _num(info["started"])
    train = state.train
    if train.arch is None and isinstance(info.get("arch"), str):
        train = replace(train, arch=info["arch"], celltype=_str(info.get("celltype")) or train.celltype)
    return replace(state, train=train, **updates) if updates or train is not state.train else state


@dataclass(frozen=True)
class RunSummary:
    """One line of the runs panel."""

    job: str
    status: str
    headline: str  # the run's main figure: best score, accuracy, export


def summarize(state: RunState) -> RunSummary:
    """The run's main figure in a few words."""
    headline = ""
    if state.job == "search" or state.search.candidates:
        best = state.search.best
        total = state.search.total
        count = f"{state.search.done}/{total}" if total else f"{state.search.done}"
        headline = f"best {format_score(best.score)} ({best.arch}), {count} scored" if best else f"{count} scored"
    elif state.job == "train" or state.train.epoch_log:
        headline = train_headline(state.train)
    elif state.evaluation is not None:
        headline = f"top1 {format_percent(state.evaluation.top1)}, top5 {format_percent(state.evaluation.top5)}"
    elif state.exports:
        headline = ", ".join(f"{x.format} -> {x.path}" for x in state.exports)
    if state.status == "failed" and state.error:
        headline = f"{headline}; {state.error}" if headline else state.error
    return RunSummary(state.job or "?", state.status, headline)


def train_headline(t: TrainState) -> str:
    """A training's figures in a few words: the best validation accuracy and its epoch (best.pt's), its test
    accuracy once measured, and where the run stands."""
    epochs = f"epoch {t.current_epoch}/{t.epochs or '?'}"
    best = t.best_epoch
    if best is None:
        return epochs
    on = "test split" if t.select_on == "test" else "val"
    parts = [f"best {on} {format_percent(best.val_acc)} (epoch {best.epoch})"]
    if t.test is not None and t.select_on != "test":
        parts.append(f"test {format_percent(t.test.top1)}")
    return ", ".join([*parts, epochs])


# --- formatting shared by the panels (plain strings: no UI toolkit here) ----------------------------------------
def format_score(score: float | None) -> str:
    if score is None:
        return "-"
    return f"{score:.2f}" if math.isfinite(score) else ("-inf" if score < 0 else "inf")


def format_percent(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def format_duration(seconds: float | None) -> str:
    """``1:02:03``, ``2:03`` or ``-``."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"

"""A run's events in TensorBoard: ``RUN_DIR/tb/``, written live during a job (``--tensorboard``) or afterwards
from any run's ``events.jsonl`` (``snasnet runs export-tb DIR``, e.g. for runs synced from a server). Both go
through ``TensorBoardEvents``, the one description of what an event shows in TensorBoard:

- training, on one step axis (the global training step, so that a resume can purge what it repeats):
  ``train/loss``, ``train/accuracy`` (running means over the epoch so far), ``train/lr``,
  ``train/images_per_s`` per ``train_step``; per epoch ``epoch/train_loss``, ``epoch/train_accuracy``,
  ``epoch/val_loss``, ``epoch/val_accuracy``, ``epoch/val_top5``, ``epoch/lr``, ``epoch/mean_firing_rate``,
  ``epoch/spikes_per_image``, ``epoch/images_per_s``, and per LIF layer ``firing_rate/<layer>`` and
  ``spikes_per_image/<layer>``;
- a search, on the candidate index: ``candidate/score``, ``candidate/sops``, ``candidate/macs``,
  ``candidate/params``, ``candidate/mean_firing_rate``, ``search/best_score``; at the end the histogram
  ``search/score``, the figure ``search/pareto_front`` (each candidate's SOPs and score, the front marked) and
  the text ``search/top``;
- an evaluation: ``eval/top1``, ``eval/top5``, ``eval/loss``, ``eval/mean_firing_rate``,
  ``eval/spikes_per_image`` and the per-layer tags, at step 0.

A resumed job starts a new event file with ``purge_step``, the first step it will write again: TensorBoard
drops what the stopped process wrote from there on (after the last checkpoint), so no step appears twice.
TensorBoard itself (``torch.utils.tensorboard``) is imported only when something is written.
"""

from __future__ import annotations

import importlib.util
import math
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from snasnet.core.errors import ConfigError, StorageError
from snasnet.core.run_lock import RunLock
from snasnet.core.runs import EVENTS, EventReader

TB_FOLDER = "tb"


def require_tensorboard() -> None:
    """One ConfigError line where the ``tensorboard`` package (which ``torch.utils.tensorboard`` writes with)
    is missing."""
    if importlib.util.find_spec("tensorboard") is None:
        raise ConfigError("TensorBoard logging needs the tensorboard package: pip install tensorboard")


@dataclass(frozen=True)
class Record:
    """One thing to write: ``kind`` scalar (a number), histogram (numbers), figure (a matplotlib Figure) or
    text (markdown), under ``tag`` at ``step``; ``walltime``: the event's time."""

    kind: str
    tag: str
    value: object
    step: int
    walltime: float | None = None


def _number(value: object) -> float | None:
    """A finite number, or None (missing, null for a non-finite value, or not a number)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return float(value)


class TensorBoardEvents:
    """Turns a run's events (docs/events.md), in order, into TensorBoard records. It keeps what a later event
    needs: the steps per epoch of a training run, the scores of a search's candidates."""

    def __init__(self) -> None:
        self.steps_per_epoch = 1
        self.candidates: dict[int, dict] = {}  # index -> candidate_scored event
        self.best: float | None = None  # the best score so far

    def purge_step(self, started: dict) -> int | None:
        """For a ``run_started`` that continues a run: the first step the job will write again (TensorBoard drops
        the earlier records from there on); None for a new run."""
        if started.get("job") == "train" and (started.get("start_epoch") or started.get("start_step")):
            steps = int(started.get("steps_per_epoch") or 1)
            return int(started["start_epoch"] or 0) * steps + int(started.get("start_step") or 0) + 1
        if started.get("job") == "search" and started.get("resumed") is not None:
            return int(started["resumed"])
        return None

    def records(self, event: dict) -> list[Record]:
        kind = event.get("event")
        handler = getattr(self, f"_on_{kind}", None)
        return [] if handler is None else list(handler(event, event.get("ts")))

    # --- training ---------------------------------------------------------------------------------------
    def _on_run_started(self, event: dict, ts: float | None) -> Iterable[Record]:
        if event.get("job") == "train":
            self.steps_per_epoch = int(event.get("steps_per_epoch") or 1)
        return ()

    def _on_train_step(self, event: dict, ts: float | None) -> Iterable[Record]:
        step = (int(event["epoch"]) - 1) * self.steps_per_epoch + int(event["step"])
        names = {"loss": "train/loss", "acc": "train/accuracy", "lr": "train/lr", "images_per_s": "train/images_per_s"}
        return self._scalars(event, names, step, ts)

    def _on_epoch_finished(self, event: dict, ts: float | None) -> Iterable[Record]:
        step = int(event["epoch"]) * self.steps_per_epoch
        names = {
            "train_loss": "epoch/train_loss",
            "train_acc": "epoch/train_accuracy",
            "val_loss": "epoch/val_loss",
            "val_acc": "epoch/val_accuracy",
            "val_top5": "epoch/val_top5",
            "lr": "epoch/lr",
            "mean_firing_rate": "epoch/mean_firing_rate",
            "total_spikes_per_image": "epoch/spikes_per_image",
            "images_per_s": "epoch/images_per_s",
        }
        yield from self._scalars(event, names, step, ts)
        yield from self._layers(event, step, ts)

    # --- evaluation ---------------------------------------------------------------------------------------
    def _on_eval_finished(self, event: dict, ts: float | None) -> Iterable[Record]:
        names = {
            "top1": "eval/top1",
            "top5": "eval/top5",
            "loss": "eval/loss",
            "mean_firing_rate": "eval/mean_firing_rate",
            "total_spikes_per_image": "eval/spikes_per_image",
        }
        yield from self._scalars(event, names, 0, ts)
        yield from self._layers(event, 0, ts)

    # --- search -------------------------------------------------------------------------------------------
    def _on_candidate_scored(self, event: dict, ts: float | None) -> Iterable[Record]:
        index = int(event["index"])
        self.candidates[index] = event
        names = {
            "score": "candidate/score",
            "sops": "candidate/sops",
            "macs": "candidate/macs",
            "params": "candidate/params",
            "mean_firing_rate": "candidate/mean_firing_rate",
        }
        yield from self._scalars(event, names, index, ts)
        score = _number(event.get("score"))
        if score is not None:
            self.best = score if self.best is None else max(self.best, score)
        if self.best is not None:
            yield Record("scalar", "search/best_score", self.best, index, ts)

    def _on_search_finished(self, event: dict, ts: float | None) -> Iterable[Record]:
        step = int(event.get("candidates") or len(self.candidates))
        scores = [s for c in self.candidates.values() if (s := _number(c.get("score"))) is not None]
        if scores:
            yield Record("histogram", "search/score", scores, step, ts)
        costed = [c for c in self.candidates.values() if _costed(c)]
        if costed:
            yield Record("figure", "search/pareto_front", _front_figure(costed, event.get("front")), step, ts)
        top = event.get("top") or []
        if top:
            head = "| rank | index | arch | cell | score | SOPs/image |\n|---|---|---|---|---|---|\n"
            rows = (
                f"| {i} | {t.get('index')} | `{t.get('arch')}` | {t.get('celltype')} | {t.get('score')} | "
                f"{t.get('sops')} |"
                for i, t in enumerate(top, 1)
            )
            table = head + "\n".join(rows)
            yield Record("text", "search/top", table, step, ts)

    # --- shared -------------------------------------------------------------------------------------------
    @staticmethod
    def _scalars(event: dict, names: dict[str, str], step: int, ts: float | None) -> Iterable[Record]:
        for field, tag in names.items():
            value = _number(event.get(field))
            if value is not None:  # a value not computed (no validation this epoch) or not finite: no point
                yield Record("scalar", tag, value, step, ts)

    @staticmethod
    def _layers(event: dict, step: int, ts: float | None) -> Iterable[Record]:
        for field, prefix in (("firing_rates", "firing_rate"), ("spikes_per_image", "spikes_per_image")):
            for layer, raw in (event.get(field) or {}).items():
                value = _number(raw)
                if value is not None:
                    yield Record("scalar", f"{prefix}/{layer}", value, step, ts)


def _costed(candidate: dict) -> bool:
    """A candidate with a score and a positive SOP count, which the figure's log axis can place."""
    sops = _number(candidate.get("sops"))
    return sops is not None and sops > 0 and _number(candidate.get("score")) is not None


def _front_figure(candidates: list[dict], front: list[dict] | None):  # noqa: ANN202 (a matplotlib Figure)
    """Each candidate's SOPs per image against its score, the Pareto front (when the search had one) marked."""
    from matplotlib.figure import Figure  # no pyplot: no backend, no window

    figure = Figure(figsize=(6, 4.2), dpi=100)
    ax = figure.add_subplot()
    xs, ys = [c["sops"] for c in candidates], [c["score"] for c in candidates]
    ax.scatter(xs, ys, s=12, c="#9aa7b1", label="candidates")
    on_front = sorted((f for f in front or [] if _costed(f)), key=lambda f: f["sops"])
    if on_front:
        xs, ys = [f["sops"] for f in on_front], [f["score"] for f in on_front]
        ax.plot(xs, ys, "o-", color="#2a7ab0", markersize=5, label="Pareto front")
    ax.set_xscale("log")
    ax.set_xlabel("SOPs per image (log)")
    ax.set_ylabel("score (higher is better)")
    ax.set_title(f"{len(candidates)} candidates" + (f", {len(on_front)} on the front" if on_front else ""))
    ax.legend(fontsize=8)
    figure.tight_layout()
    return figure


class _Writer:
    """``torch.utils.tensorboard.SummaryWriter`` for records."""

    def __init__(self, log_dir: Path, purge_step: int | None = None) -> None:
        require_tensorboard()
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step)

    def write(self, record: Record) -> None:
        w, args = self.writer, (record.tag, record.value, record.step)
        if record.kind == "scalar":
            w.add_scalar(*args, walltime=record.walltime)
        elif record.kind == "histogram":
            import numpy as np

            w.add_histogram(record.tag, np.asarray(record.value, dtype=float), record.step, walltime=record.walltime)
        elif record.kind == "figure":
            w.add_figure(*args, walltime=record.walltime)
        elif record.kind == "text":
            w.add_text(*args, walltime=record.walltime)

    def close(self) -> None:
        self.writer.close()


class TensorBoardLog:
    """A run's listener (``RunDir.subscribe``, ``listeners=``) that writes ``RUN_DIR/tb/`` while the job runs.
    Each job's ``run_started`` opens an event file; a resumed job's has ``purge_step`` and comes after re-reading
    what the earlier processes recorded (so that e.g. the search's final histogram covers every candidate; a run
    that was not logged before gets those records written first). Each event is flushed as it comes, so a killed
    job loses nothing that ``events.jsonl`` holds."""

    def __init__(self, run_dir: str | os.PathLike, log_dir: str | os.PathLike | None = None) -> None:
        require_tensorboard()
        self.run_dir = Path(run_dir)
        self.log_dir = Path(log_dir) if log_dir is not None else self.run_dir / TB_FOLDER
        self.events = TensorBoardEvents()
        self._writer: _Writer | None = None

    def __call__(self, event: dict) -> None:
        if event.get("event") == "run_started":
            self.close()
            purge = self.events.purge_step(event)
            backlog = []
            if purge is not None:  # catch up with what the earlier processes recorded (events.jsonl holds this one too)
                earlier = EventReader(self.run_dir / EVENTS).read_new()
                last_start = max((i for i, e in enumerate(earlier) if e["event"] == "run_started"), default=0)
                backlog = [r for r in tensorboard_records(earlier[:last_start], self.events) if r.step < purge]
            written = self.log_dir.is_dir() and any(self.log_dir.glob("events.out.tfevents.*"))
            self._writer = _Writer(self.log_dir, purge)
            if not written:  # a run logged from its resume on: its earlier events first, as an export would
                for record in backlog:
                    self._writer.write(record)
        if self._writer is None:
            return
        for record in self.events.records(event):
            self._writer.write(record)
        self._writer.writer.flush()
        if event.get("event") == "run_finished":
            self.close()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def tensorboard_records(events: Iterable[dict], converter: TensorBoardEvents | None = None) -> list[Record]:
    """The records of a whole event stream, as TensorBoard shows them after every resume's purge: what a resumed
    job wrote again replaces what its stopped predecessor wrote from the same step on. ``converter``: the one to
    use (and leave in the state the stream ends in); a new one by default."""
    converter, records = converter or TensorBoardEvents(), []
    for event in events:
        if event.get("event") == "run_started":
            purge = converter.purge_step(event)
            if purge is not None:
                records = [r for r in records if r.step < purge]
        records.extend(converter.records(event))
    return records


def export_tensorboard(run_dir: str | os.PathLike, log_dir: str | os.PathLike | None = None) -> tuple[Path, int]:
    """Write TensorBoard files for the run in ``run_dir`` from its ``events.jsonl`` into ``log_dir`` (default
    ``RUN_DIR/tb``), replacing what was there (the events are the record; a half-written export is never left:
    it is written beside and moved in). Returns the folder and the number of records. A run that a live job is
    writing is refused when the output is inside it."""
    run_dir = Path(run_dir)
    events_file = run_dir / EVENTS
    if not events_file.is_file():
        raise ConfigError(f"{run_dir} holds no {EVENTS}: give the directory of a snasnet run")
    out = Path(log_dir) if log_dir is not None else run_dir / TB_FOLDER
    if out.exists() and not out.is_dir():
        raise StorageError(f"{out} is a file: give a folder for the TensorBoard files")
    require_tensorboard()
    lock = RunLock(run_dir) if out.resolve().is_relative_to(run_dir.resolve()) else None
    if lock is not None:
        lock.acquire()  # a live job writes there: refused with its PID
    try:
        records = tensorboard_records(EventReader(events_file).read_new())
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            writer = _Writer(staging)
            for record in records:
                writer.write(record)
            writer.close()
            if out.exists():
                old = out.with_name(f".{out.name}.old-{staging.name[-8:]}")
                out.rename(old)
                staging.rename(out)
                shutil.rmtree(old, ignore_errors=True)
            else:
                staging.rename(out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    except OSError as exc:
        raise StorageError(f"cannot write {out}: {exc.strerror or exc}") from None
    finally:
        if lock is not None:
            lock.release()
    return out, len(records)

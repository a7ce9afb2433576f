"""Run directories written by hand, field for field as docs/events.md lists them, for the dashboard's tests.

Each writer returns the events it wrote, so a test can compare what the dashboard shows with the numbers it was
fed. Timestamps are explicit (``t0`` plus seconds), so rates and ETAs are known in advance.
"""

from __future__ import annotations

import json
from pathlib import Path

T0 = 1_764_250_000.0
LAYERS = ("cell1.cell_architecture.0.0", "cell1.cell_architecture.2.0", "lif1", "cell2.cell_architecture.0.0", "lif2")
#: neurons per image and step of the first layers, to weight a candidate's mean firing rate as the library does
NEURONS = (8192, 8192, 2048)
ARCHS = ("0302 0030 3003 0000", "0100 0020 0003 1000", "0003 0000 0000 0000", "0330 0004 0002 0000")


def event(name: str, ts: float, **fields: object) -> dict:
    return {"v": 1, "ts": ts, "event": name, **fields}


def write_run_json(path: Path, job: str, status: str = "running", **extra: object) -> None:
    path.mkdir(parents=True, exist_ok=True)
    info = {"job": job, "config": extra.pop("config", {}), "arch": None, "celltype": None, "seed": 0,
            "versions": {"python": "3.11"}, "host": "test", "argv": ["snasnet", job], "status": status,
            "error": None, "started": T0, **extra}  # fmt: skip
    (path / "run.json").write_text(json.dumps(info))


def append_events(path: Path, events: list[dict]) -> None:
    with open(path / "events.jsonl", "a", encoding="utf-8") as f:
        for e in events:
            f.write(json.dumps(e, separators=(",", ":")) + "\n")


def candidate_event(index: int, score: float, ts: float, arch: str | None = None) -> dict:
    arch = arch or ARCHS[index % len(ARCHS)]
    rates = {name: round(0.05 + 0.01 * ((index + k) % 7), 4) for k, name in enumerate(LAYERS[:3])}
    mean = sum(r * n for r, n in zip(rates.values(), NEURONS, strict=True)) / sum(NEURONS)
    return event("candidate_scored", ts, index=index, arch=arch, celltype="backward", canonical=arch, score=score,
                 firing_rates=rates, mean_firing_rate=mean, seconds=0.5)  # fmt: skip


def search_events(scores: list[float], total: int | None = None, finished: bool = True) -> list[dict]:
    """A search that scores one candidate every 0.5 s; finished: search_finished with the top 3 and run_finished."""
    total = total if total is not None else len(scores)
    events = [event("run_started", T0, job="search", total=total, strategy="random", dataset="digits")]
    events += [candidate_event(i, s, T0 + 0.5 * (i + 1)) for i, s in enumerate(scores)]
    if finished:
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:3]
        top = [{"index": i, "arch": ARCHS[i % len(ARCHS)], "celltype": "backward", "canonical": ARCHS[i % len(ARCHS)],
                "score": scores[i]} for i in order]  # fmt: skip
        ts = T0 + 0.5 * len(scores) + 0.1
        events += [event("search_finished", ts, candidates=len(scores), top=top, best_arch_file="best_arch.json"),
                   event("run_finished", ts, status="ok", error=None)]  # fmt: skip
    return events


def write_search_run(path: Path, scores: list[float], finished: bool = True, total: int | None = None) -> list[dict]:
    write_run_json(path, "search", "ok" if finished else "running", config={"dataset": "digits"})
    events = search_events(scores, total, finished)
    append_events(path, events)
    if finished:
        best = events[-2]["top"][0]
        (path / "best_arch.json").write_text(json.dumps({"arch": best["arch"], "celltype": "backward"}))
    return events


def epoch_event(epoch: int, epochs: int, val_acc: float, ts: float) -> dict:
    rates = {name: round(0.02 * (k + 1) + 0.001 * epoch, 4) for k, name in enumerate(LAYERS)}
    spikes = {name: round(1000 * r, 1) for name, r in rates.items()}
    return event("epoch_finished", ts, epoch=epoch, epochs=epochs, train_loss=round(2.0 / epoch, 4),
                 train_acc=round(val_acc - 0.02, 4), val_loss=round(2.1 / epoch, 4), val_acc=val_acc,
                 val_top5=min(1.0, val_acc + 0.05), lr=round(0.1 / epoch, 5), firing_rates=rates,
                 spikes_per_image=spikes, total_spikes_per_image=round(sum(spikes.values()), 1), images_per_s=800.0,
                 seconds=10.0)  # fmt: skip


def train_events(
    val_accs: list[float], epochs: int, steps: int = 4, finished: bool = True, test: float | None = None
) -> list[dict]:
    """A training with ``steps`` steps per epoch of 2.5 s each, one train_step per step; ``test``: best.pt's test
    accuracy, reported after the last epoch (test_finished) when the run finished."""
    arch = ARCHS[0]
    events = [event("run_started", T0, job="train", epochs=epochs, steps_per_epoch=steps, dataset="digits",
                    arch=arch, celltype="backward", select_on="val", val_split=0.1, train_images=1293,
                    val_images=144, test_images=360)]  # fmt: skip
    ts = T0
    for e, acc in enumerate(val_accs, start=1):
        for s in range(1, steps + 1):
            ts += 2.5
            events.append(event("train_step", ts, epoch=e, step=s, steps=steps, loss=round(2.5 / (e + s / steps), 4),
                                acc=round(acc * s / steps, 4), lr=round(0.1 / e, 5), images_per_s=820.0))  # fmt: skip
        events.append(epoch_event(e, epochs, acc, ts))
        events.append(event("checkpoint_saved", ts, path="checkpoints/last.pt", kind="last", epoch=e))
    if finished and test is not None:
        best = max(range(len(val_accs)), key=lambda i: val_accs[i]) + 1
        events.append(event("test_finished", ts + 0.05, checkpoint="checkpoints/best.pt", epoch=best,
                            selected_on="val", top1=test, top5=min(1.0, test + 0.02), images=360))  # fmt: skip
    if finished:
        events.append(event("run_finished", ts + 0.1, status="ok", error=None))
    return events


def write_train_run(
    path: Path, val_accs: list[float], epochs: int | None = None, finished: bool = True, test: float | None = None
) -> list[dict]:
    epochs = epochs or len(val_accs)
    write_run_json(path, "train", "ok" if finished else "running", arch=ARCHS[0], celltype="backward",
                   config={"dataset": "digits", "epochs": epochs})  # fmt: skip
    events = train_events(val_accs, epochs, finished=finished, test=test)
    append_events(path, events)
    return events

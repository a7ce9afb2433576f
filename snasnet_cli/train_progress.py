"""Training progress on the terminal, drawn from the run's events (the ones a dashboard reads): a bar over
the whole run with epoch, step, loss, accuracy, images/s and ETA, and one line per finished epoch."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.2f}%"


def epoch_line(e: dict) -> str:
    """One finished epoch: train and validation figures, learning rate, spikes, speed."""
    parts = [
        f"epoch {e['epoch']}/{e['epochs']}",
        f"train loss {e['train_loss']:.4f} acc {_pct(e['train_acc'])}"
        + (f" ({e['train_precision']})" if e.get("train_precision") else ""),
    ]
    if e.get("val_acc") is not None:
        parts.append(
            f"val loss {e['val_loss']:.4f} acc {_pct(e['val_acc'])} top-5 {_pct(e['val_top5'])}"
            + (f" ({e['val_precision']})" if e.get("val_precision") else "")
        )
    parts.append(f"lr {e['lr']:.3g}")
    if e.get("total_spikes_per_image") is not None:
        parts.append(f"spikes/image {e['total_spikes_per_image']:,.0f}")
    parts.append(f"{e['images_per_s']:,.0f} img/s")
    parts.append(f"{e['seconds']:.1f} s")
    return "  ".join(parts)


class TrainProgress:
    """A run listener (``RunDir.subscribe``)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            TextColumn("step {task.fields[step]}/{task.fields[steps]}"),
            TextColumn("loss {task.fields[loss]} acc {task.fields[acc]}"),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=console,
        )
        self.task = None
        self.steps = 1

    def __call__(self, event: dict) -> None:
        kind = event["event"]
        if kind == "run_started":
            self._start(event)
        elif kind == "train_step" and self.task is not None:
            self.progress.update(
                self.task,
                completed=(event["epoch"] - 1) * self.steps + event["step"],
                epoch=event["epoch"],
                step=event["step"],
                loss=f"{event['loss']:.4f}",
                acc=_pct(event["acc"]),
                speed=f"{event['images_per_s']:,.0f} img/s",
            )
        elif kind == "epoch_finished":
            self.progress.console.print(epoch_line(event), highlight=False, soft_wrap=True)
        elif kind == "run_finished":
            self.stop()

    def _start(self, event: dict) -> None:
        self.steps = max(int(event["steps_per_epoch"]), 1)
        epochs, start = int(event["epochs"]), int(event.get("start_epoch") or 0)
        done = start * self.steps + int(event.get("start_step") or 0)
        if done:
            self.console.print(f"resuming at epoch {start + 1}, step {int(event.get('start_step') or 0)}")
        self.progress.start()
        self.task = self.progress.add_task(
            "train",
            total=epochs * self.steps,
            completed=done,
            epoch=start + 1,
            epochs=epochs,
            step=int(event.get("start_step") or 0),
            steps=self.steps,
            loss="-",
            acc="-",
            speed="",
        )

    def stop(self) -> None:
        if self.task is not None:
            self.progress.stop()
            self.task = None

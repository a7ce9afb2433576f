"""Training progress on the terminal, drawn from the run's events (the ones a dashboard reads): a bar over
the whole run with epoch, step, loss, accuracy, images/s and ETA on stderr, and one line per finished epoch on
stdout, so that ``snasnet train ... > log`` keeps the epochs, in order, before the final summary."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from snasnet_cli import closed_pipe


def _figure(e: dict, key: str, spec: str, scale: float = 1.0, unit: str = "") -> str:
    """``e[key]`` formatted; a number the event wrote as null because it was not finite says so ("inf")."""
    value = e.get(key)
    if value is None:
        return str((e.get("nonfinite") or {}).get(key, "-"))
    return f"{scale * value:{spec}}{unit}"


def _pct(e: dict, key: str) -> str:
    return _figure(e, key, ".2f", 100.0, "%")


def epoch_line(e: dict) -> str:
    """One finished epoch: train and validation figures, learning rate, spikes, speed."""
    parts = [
        f"epoch {e['epoch']}/{e['epochs']}",
        f"train loss {_figure(e, 'train_loss', '.4f')} acc {_pct(e, 'train_acc')}"
        + (f" ({e['train_precision']})" if e.get("train_precision") else ""),
    ]
    if e.get("val_acc") is not None:
        parts.append(
            f"val loss {_figure(e, 'val_loss', '.4f')} acc {_pct(e, 'val_acc')} top-5 {_pct(e, 'val_top5')}"
            + (f" ({e['val_precision']})" if e.get("val_precision") else "")
        )
    parts.append(f"lr {_figure(e, 'lr', '.3g')}")
    if e.get("total_spikes_per_image") is not None:
        parts.append(f"spikes/image {e['total_spikes_per_image']:,.0f}")
    parts.append(f"{_figure(e, 'images_per_s', ',.0f')} img/s")
    parts.append(f"{_figure(e, 'seconds', '.1f')} s")
    return "  ".join(parts)


def validation_line(started: dict) -> str:
    """What the run validates on (its run_started event): says so plainly when it is the test split."""
    images = started.get("val_images")
    if started.get("select_on") == "test":
        return (
            f"best.pt chosen on the test split ({images} images; --select-on test: the original code's protocol, "
            "whose test accuracy is optimistic)"
        )
    if started.get("val_split"):
        held = f"{images} of the training images held out (--val-split {started['val_split']:g})"
    else:
        held = f"the dataset's validation split ({images} images)"
    return f"best.pt chosen on {held}; tested once on the {started.get('test_images')} test images"


def test_figures(e: dict) -> str:
    """best.pt's test accuracy (a test_finished event): top-1, top-5, images, epoch."""
    return f"{_pct(e, 'top1')} top-5 {_pct(e, 'top5')} ({e.get('images')} images, epoch {e.get('epoch')}" + (
        f", {e['precision']})" if e.get("precision") else ")"
    )


def test_line(e: dict) -> str:
    """One test_finished event, labelled as test."""
    selected = " (chosen on the test split: --select-on test)" if e.get("selected_on") == "test" else ""
    return f"test: best.pt {test_figures(e)}{selected}"


class TrainProgress:
    """A run listener (``RunDir.subscribe``). The bar goes to ``console`` (stderr), the lines that stay (the
    epochs) to ``out`` (default: stdout)."""

    def __init__(self, console: Console, out: Console | None = None) -> None:
        self.console = console
        self.out = out or closed_pipe.console(highlight=False, soft_wrap=True)
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
                loss=_figure(event, "loss", ".4f"),
                acc=_pct(event, "acc"),
                speed=f"{_figure(event, 'images_per_s', ',.0f')} img/s",
            )
        elif kind == "epoch_finished":
            self.say(epoch_line(event))
        elif kind == "test_finished":
            self.say(test_line(event))
        elif kind == "run_finished":
            self.stop()

    def say(self, text: str) -> None:
        """A line that stays: on stdout, or above the live bar when stdout is the bar's terminal too."""
        if self.out.is_terminal and self.console.is_terminal:
            self.progress.console.print(text, highlight=False, soft_wrap=True)
        else:
            self.out.print(text)

    def _start(self, event: dict) -> None:
        self.steps = max(int(event["steps_per_epoch"]), 1)
        epochs, start = int(event["epochs"]), int(event.get("start_epoch") or 0)
        done = start * self.steps + int(event.get("start_step") or 0)
        if done:
            self.say(f"resuming at epoch {start + 1}, step {int(event.get('start_step') or 0)}")
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

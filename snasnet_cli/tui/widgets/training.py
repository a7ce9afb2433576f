"""The training panel: epoch progress, lr, images/s, ETA, and the loss and accuracy curves."""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static
from textual_plotext import PlotextPlot

from snasnet_cli.tui.source import RunView
from snasnet_cli.tui.state import TrainState, format_duration, format_percent
from snasnet_cli.tui.widgets.common import run_title


class TrainingPanel(Vertical):
    """Follows one training run."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.view: RunView | None = None
        self._plotted: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="train-stats", classes="stats")
        yield ProgressBar(show_eta=False, id="train-progress")
        with Horizontal(classes="body"):
            loss = PlotextPlot(id="loss-plot")
            loss.border_title = "loss"
            yield loss
            acc = PlotextPlot(id="acc-plot")
            acc.border_title = "accuracy %"
            yield acc

    def on_mount(self) -> None:
        self.show(None)

    def show(self, view: RunView | None) -> None:
        self.view = view
        stats = self.query_one("#train-stats", Static)
        progress = self.query_one("#train-progress", ProgressBar)
        if view is None:
            stats.update("No training run yet: [b]t[/b] trains the selected candidate, [b]n[/b] starts any job.")
            progress.update(total=None, progress=0)
            return
        train = view.state.train
        stats.update(self._stats(view))
        progress.update(total=1.0 if train.progress is not None else None, progress=train.progress or 0.0)
        self._plot(view, train)

    def _stats(self, view: RunView) -> Text:
        """Three lines that each fit 80 columns (a line too long would cut its last figures): where the run
        stands; validation and test; training figures and the cell."""
        t = view.state.train
        step = t.last_step
        where = f"epoch {t.current_epoch}/{t.epochs or '?'}"
        if step is not None and step.epoch == t.current_epoch and step.steps and step.step < step.steps:
            where += f" step {step.step}/{step.steps}"
        line = Text.assemble(run_title(view), f"  {where}  ETA {format_duration(t.eta_seconds)}")
        line.append("\nacc on the test split " if t.select_on == "test" else "\nval acc ")
        line.append(format_percent(t.final_val_acc), style="bold green")
        best = t.best_epoch
        if best is not None:
            line.append(f" (best {format_percent(best.val_acc)} at epoch {best.epoch})")
        if t.test is not None and t.select_on != "test":
            line.append("  test ")
            line.append(format_percent(t.test.top1), style="bold")
            line.append(" (best.pt)")
        lr = "-" if t.lr is None else f"{t.lr:.4g}"
        speed = "-" if t.images_per_s is None else f"{t.images_per_s:,.0f}"
        line.append("\n")
        if t.epoch_log:
            last = t.epoch_log[-1]
            loss = "-" if last.train_loss is None else f"{last.train_loss:.4f}"
            line.append(f"train acc {format_percent(last.train_acc)}  loss {loss}  ")
        line.append(f"lr {lr}  {speed} img/s")
        if t.arch:
            line.append(f"  {t.arch}", style="dim")
        return line

    def _plot(self, view: RunView, t: TrainState) -> None:
        key = (view.path, len(t.steps), t.last_step, len(t.epoch_log))
        if key == self._plotted:
            return
        self._plotted = key
        epochs_x = [float(e.epoch) for e in t.epoch_log]

        def series(
            plot: PlotextPlot, steps: list[tuple[float, float | None]], val: list[float | None], scale: float
        ) -> None:
            # plotext cannot place NaN or an infinity (it raised, and took the dashboard down): draw what is finite,
            # and say how many points were left out. A training point that is None was not finite when written
            # (strict events write null); a validation point that is None is an epoch without validation.
            train = [(x, y * scale) for x, y in steps if y is not None and math.isfinite(y)]
            points = [(x, y * scale) for x, y in zip(epochs_x, val, strict=True) if y is not None and math.isfinite(y)]
            skipped = len(steps) - len(train) + sum(1 for y in val if y is not None and not math.isfinite(y))
            plot.border_subtitle = f"{skipped} non-finite point{'s' if skipped != 1 else ''} skipped" if skipped else ""
            plt = plot.plt
            plt.clear_data()
            if train:
                plt.plot([x for x, _ in train], [y for _, y in train], label="train", marker="braille")
            if points:
                plt.plot([x for x, _ in points], [y for _, y in points], label="val", marker="braille")
                plt.scatter([x for x, _ in points], [y for _, y in points], marker="●")
            plot.refresh()

        # each step point's running value; without train_step events the epochs' training figures stand in
        loss_steps = [(p.position, p.loss) for p in t.steps]
        acc_steps = [(p.position, p.acc) for p in t.steps]
        if not loss_steps:
            loss_steps = [(float(e.epoch), e.train_loss) for e in t.epoch_log]
        if not acc_steps:
            acc_steps = [(float(e.epoch), e.train_acc) for e in t.epoch_log]
        series(self.query_one("#loss-plot", PlotextPlot), loss_steps, [e.val_loss for e in t.epoch_log], 1.0)
        series(self.query_one("#acc-plot", PlotextPlot), acc_steps, [e.val_acc for e in t.epoch_log], 100.0)

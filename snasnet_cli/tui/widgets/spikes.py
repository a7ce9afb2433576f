"""The spikes panel: per-layer firing rates as bars (1 - rate is the sparsity) and spikes per image."""

from __future__ import annotations

from rich.bar import Bar
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Sparkline, Static

from snasnet.network.arch import layer_label
from snasnet_cli.tui.source import RunView
from snasnet_cli.tui.state import SpikeReading, format_percent
from snasnet_cli.tui.widgets.common import run_title

BAR_WIDTH = 12


class SpikesPanel(Vertical):
    """Shows one spike reading: a training run's latest epoch, an evaluation, or a search candidate."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.reading: SpikeReading | None = None
        self._key: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="spikes-stats", classes="stats")
        table = DataTable(id="layers", cursor_type="row", zebra_stripes=True)
        table.border_title = "per layer"
        yield table
        yield Static(id="spikes-history-label", classes="caption")
        yield Sparkline([], id="spikes-history")

    def on_mount(self) -> None:
        table = self.query_one("#layers", DataTable)
        for key, label in (("layer", "layer"), ("bar", "bar"), ("rate", "rate"), ("sparsity", "sparsity"),
                           ("spikes", "spk/img")):  # fmt: skip
            table.add_column(label, key=key)
        self.show(None, None)

    def show(self, view: RunView | None, reading: SpikeReading | None) -> None:
        """``reading`` from ``view`` (the run in focus); the history line is the run's epochs."""
        epochs = view.state.train.epoch_log if view is not None else ()
        history = [e.spikes.total_spikes_per_image for e in epochs if e.spikes.total_spikes_per_image is not None]
        key = (view.path if view else None, reading, tuple(history), view.state.status if view else None)
        if key == self._key:
            return
        self._key = key
        self.reading = reading
        stats = self.query_one("#spikes-stats", Static)
        table = self.query_one("#layers", DataTable)
        table.clear()
        if view is None or reading is None:
            stats.update(
                (run_title(view) + Text("  no spike statistics yet (they come with each epoch)\n"))
                if view
                else "No run in focus: [b]5[/b] lists the runs."
            )
            self._history([])
            return
        mean = reading.mean_firing_rate
        line = Text.assemble(run_title(view), f"  {reading.label}\nmean firing rate ")
        line.append(format_percent(mean, 2), style="bold")
        line.append(" sparsity ")
        line.append(format_percent(None if mean is None else 1 - mean, 2), style="bold green")
        if reading.total_spikes_per_image is not None:
            line.append(f"  {reading.total_spikes_per_image:,.0f} spikes/image in all")
        stats.update(line)
        layers = reading.layers()
        scale = max((rate for _, rate, _ in layers if rate is not None), default=0.0) or 1.0
        table.columns["bar"].label = Text(f"bar 0-{format_percent(scale, 0)}")
        arch = reading.arch or view.state.train.arch  # a candidate's cell, else the run's
        for name, rate, spikes in layers:
            bar = Bar(scale, 0, rate or 0.0, width=BAR_WIDTH, color="yellow") if rate is not None else Text("-")
            table.add_row(
                layer_label(name, arch),
                bar,
                Text(format_percent(rate, 2), justify="right"),
                Text(format_percent(None if rate is None else 1 - rate, 1), justify="right"),
                Text("-" if spikes is None else f"{spikes:,.{0 if spikes >= 100 else 1}f}", justify="right"),
            )
        self._history(history)

    def _history(self, history: list[float]) -> None:
        label = self.query_one("#spikes-history-label", Static)
        if history:
            label.update(
                f"spikes per image by epoch: {history[0]:,.0f} (epoch 1) to {history[-1]:,.0f} (epoch {len(history)})"
            )
        else:
            label.update("")
        sparkline = self.query_one("#spikes-history", Sparkline)
        sparkline.data = history
        sparkline.display = bool(history)

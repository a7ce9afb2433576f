"""The search panel: progress, best so far, the sortable leaderboard, the selected candidate's cell, the scores."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, ProgressBar, Static
from textual_plotext import PlotextPlot

from snasnet.arch import Architecture
from snasnet.errors import ArchitectureError
from snasnet_cli.tui.cell_drawing import LEGEND, draw_cell
from snasnet_cli.tui.source import RunView
from snasnet_cli.tui.state import Candidate, format_duration, format_percent, format_score
from snasnet_cli.tui.widgets.common import run_title


@dataclass(frozen=True)
class SortOrder:
    column: str
    label: str
    key: Callable[[Candidate], object]
    descending: bool  # the natural direction: best scores first, earliest candidates first


SORTS = (
    SortOrder("score", "score", lambda c: c.sort_score, True),
    SortOrder("index", "#", lambda c: c.index, False),
    SortOrder("arch", "arch", lambda c: c.arch, False),
    SortOrder("firing", "firing rate", lambda c: c.mean_firing_rate if c.mean_firing_rate is not None else -1.0, False),
    SortOrder("seconds", "seconds", lambda c: c.seconds if c.seconds is not None else float("inf"), False),
)
COLUMNS = (("index", "#"), ("score", "score"), ("arch", "arch"), ("firing", "fire"), ("seconds", "s"))


class SearchPanel(Vertical):
    """Follows one search run."""

    BINDINGS = [
        Binding("s", "cycle_sort", "Sort"),
        Binding("r", "reverse_sort", "Reverse"),
    ]

    class CandidateChosen(Message):
        """The candidate under the leaderboard's cursor changed (the spikes panel and the train key use it)."""

        def __init__(self, run: RunView, candidate: Candidate) -> None:
            super().__init__()
            self.run = run
            self.candidate = candidate

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.view: RunView | None = None
        self._rows: dict[str, Candidate] = {}
        self._sort = SORTS[0]
        self._reverse = False
        self._pinned: str | None = None  # the candidate under the cursor, unless the cursor is on the top row
        self._plotted = -1
        self._drawn: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="search-stats", classes="stats")
        yield ProgressBar(show_eta=False, id="search-progress")
        with Horizontal(classes="body"):
            table = DataTable(id="leaderboard", cursor_type="row", zebra_stripes=True)
            table.border_title = "leaderboard"
            yield table
            with Vertical(id="search-side"):
                cell = Static(id="cell")
                cell.border_title = "cell"
                yield cell
                plot = PlotextPlot(id="distribution")
                plot.border_title = "score distribution"
                yield plot

    def on_mount(self) -> None:
        table = self.query_one("#leaderboard", DataTable)
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        self._update_sort_title()
        self.show(None)

    # --- data -----------------------------------------------------------------------------------------------
    @property
    def selected(self) -> Candidate | None:
        """The candidate under the cursor (the best while the person has not moved it)."""
        table = self.query_one("#leaderboard", DataTable)
        if not self._rows or table.row_count == 0:
            return self.view.state.search.best if self.view else None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._rows.get(key)

    def show(self, view: RunView | None) -> None:
        table = self.query_one("#leaderboard", DataTable)
        if view is None or (self.view is not None and view.path != self.view.path):
            table.clear()
            self._rows.clear()
            self._pinned = None
            self._plotted = -1
        self.view = view
        stats = self.query_one("#search-stats", Static)
        if view is None:
            stats.update("No search run yet: [b]n[/b] starts one, [b]5[/b] lists the runs to follow.")
            self.query_one("#search-progress", ProgressBar).update(total=None, progress=0)
            self.query_one("#cell", Static).update("")
            return
        search = view.state.search
        new = search.candidates[len(self._rows) :]
        for cand in new:
            key = str(cand.index)
            if key in self._rows:  # a resumed search scores nothing twice, but be safe
                continue
            self._rows[key] = cand
            table.add_row(*self._cells(cand), key=key)
        if new:
            self._apply_sort()
        stats.update(self._stats(view))
        self.query_one("#search-progress", ProgressBar).update(total=search.total or None, progress=search.done)
        self._plot(search.finite_scores())
        self._draw_selected()

    def _cells(self, c: Candidate) -> tuple:
        fire = format_percent(c.mean_firing_rate)
        seconds = "-" if c.seconds is None else f"{c.seconds:.2f}"
        return (
            Text(str(c.index), justify="right"),
            Text(format_score(c.score), justify="right"),
            c.arch,
            Text(fire, justify="right"),
            Text(seconds, justify="right"),
        )

    def _stats(self, view: RunView) -> Text:
        search = view.state.search
        total = f"/{search.total}" if search.total else ""
        rate = f"{search.rate:.2f}/s" if search.rate else "-/s"
        line = Text.assemble(
            run_title(view),
            f"  {search.done}{total} scored  {rate}  ETA {format_duration(search.eta_seconds)}",
        )
        best = search.best
        line.append("\nbest ")
        if best is None:
            line.append("-", style="dim")
        else:
            line.append(f"#{best.index} ", style="bold")
            line.append(format_score(best.score), style="bold green")
            line.append(f"  {best.arch} ({best.celltype})")
        return line

    # --- sorting --------------------------------------------------------------------------------------------
    def _apply_sort(self) -> None:
        table = self.query_one("#leaderboard", DataTable)
        descending = self._sort.descending != self._reverse
        table.sort("index", key=lambda cell: self._sort.key(self._rows[cell.plain]), reverse=descending)
        if self._pinned is not None and self._pinned in self._rows:
            table.move_cursor(row=table.get_row_index(self._pinned), scroll=True)

    def _update_sort_title(self) -> None:
        arrow = "▼" if self._sort.descending != self._reverse else "▲"
        self.query_one("#leaderboard", DataTable).border_title = f"leaderboard by {self._sort.label} {arrow}"

    def sort_by(self, column: str, reverse: bool = False) -> None:
        self._sort = next(s for s in SORTS if s.column == column)
        self._reverse = reverse
        self._update_sort_title()
        self._apply_sort()
        self._draw_selected()

    def action_cycle_sort(self) -> None:
        i = next(i for i, s in enumerate(SORTS) if s is self._sort)
        self.sort_by(SORTS[(i + 1) % len(SORTS)].column)

    def action_reverse_sort(self) -> None:
        self.sort_by(self._sort.column, not self._reverse)

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = event.column_key.value
        self.sort_by(column, not self._reverse if column == self._sort.column else False)

    # --- the selected candidate -------------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        # the cursor on the top row follows whatever comes first (the best, by default); anywhere else it stays on
        # that candidate while new rows arrive and the order changes
        self._pinned = event.row_key.value if event.cursor_row > 0 and event.row_key is not None else None
        self._draw_selected()

    def _draw_selected(self) -> None:
        cand = self.selected
        if cand is None or self.view is None:
            return
        drawn = (self.view.path, cand)
        if drawn == self._drawn:
            return
        self._drawn = drawn
        cell = self.query_one("#cell", Static)
        cell.border_title = f"cell #{cand.index}  score {format_score(cand.score)}"
        try:
            lines = draw_cell(Architecture.parse(cand.arch, cand.celltype))
            body = Text("\n".join(lines))
            body.append(f"\n{LEGEND}", style="dim")
        except ArchitectureError as exc:
            body = Text(f"{cand.arch}: {exc}", style="red")
        cell.update(body)
        self.post_message(self.CandidateChosen(self.view, cand))

    def _plot(self, scores: list[float]) -> None:
        if len(scores) == self._plotted:
            return
        self._plotted = len(scores)
        widget = self.query_one("#distribution", PlotextPlot)
        widget.border_title = f"score distribution (n={len(scores)})"
        plt = widget.plt
        plt.clear_data()
        if scores:
            plt.hist(scores, bins=max(1, min(20, len(scores))))
        widget.refresh()

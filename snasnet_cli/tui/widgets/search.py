"""The search panel: progress, best so far, the sortable leaderboard, the selected candidate's cell, the scores."""

from __future__ import annotations

import math

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import DataTable, ProgressBar, Static
from textual_plotext import PlotextPlot

from snasnet.core.errors import ArchitectureError
from snasnet.network.arch import Architecture
from snasnet_cli.tui.cell_drawing import LEGEND, draw_cell
from snasnet_cli.tui.leaderboard import SORTS, Board
from snasnet_cli.tui.source import RunView
from snasnet_cli.tui.state import Candidate, format_duration, format_percent, format_score
from snasnet_cli.tui.widgets.common import run_title

#: (column key, header) in the order shown; "front" marks the members of the live Pareto front (score vs SOPs). The
#: cell comes third, so that at 80 columns the leaderboard shows it whole beside its index and score.
COLUMNS = (("index", "#"), ("score", "score"), ("arch", "arch"), ("front", "◆"), ("sops", "SOPs"),
           ("firing", "fire"), ("seconds", "s"), ("macs", "MACs"), ("params", "params"))  # fmt: skip
#: rows the leaderboard holds: the top of the order (a whole search space would not fit a terminal anyway)
TOP_ROWS = 50
FRONT_MARK = "◆"


def format_count(value: float | None) -> str:
    """``2.31M``, ``776k``, ``950``: a count in 5 characters or so."""
    if value is None:
        return "-"
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.0f}"


def count_ticks(low: float, high: float, most: int) -> list[float]:
    """At most ``most`` round tick positions from ``low`` to ``high`` for counts written by ``format_count``."""
    if not high > low:
        return [low]
    step = 10 ** math.floor(math.log10((high - low) / max(1, most - 1)))
    for factor in (1, 2, 5, 10):
        if (high - low) / (factor * step) <= most - 1:
            step *= factor
            break
    first = math.ceil(low / step) * step
    return [first + i * step for i in range(int((high - first) // step) + 1)]


class SearchPanel(Vertical):
    """Follows one search run."""

    BINDINGS = [
        Binding("s", "cycle_sort", "Sort"),
        # out of the footer, which must keep "? Help  q Quit" in 80 columns; the help screen lists it
        Binding("r", "reverse_sort", "Reverse", show=False),
        Binding("f", "toggle_front", "Front"),
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
        self.board = Board()
        self._rows: dict[str, Candidate] = {}  # the rows shown, by key
        self._shown: list[int] = []  # their candidate indices, in order
        self._sort = SORTS[0]
        self._reverse = False
        self.front_only = False
        self._pinned: str | None = None  # the candidate under the cursor, unless the cursor is on the top row
        self._plotted: tuple | None = None
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
            return self.view.state.search.best if self.view and not self.front_only else None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return self._rows.get(key)

    def show(self, view: RunView | None) -> None:
        table = self.query_one("#leaderboard", DataTable)
        if view is None or (self.view is not None and view.path != self.view.path):
            table.clear()
            self._rows.clear()
            self._shown = []
            self.board = Board()
            self._pinned = None
            self._plotted = None
            self._clear_cell()  # another search: none of the last one's figures stay
        self.view = view
        stats = self.query_one("#search-stats", Static)
        if view is None:
            stats.update("No search run yet: [b]n[/b] starts one, [b]5[/b] lists the runs to follow.")
            self.query_one("#search-progress", ProgressBar).update(total=None, progress=0)
            self.query_one("#cell", Static).update("")
            return
        search = view.state.search
        self.board.extend(search.candidates[len(self.board) :])
        self._fill_table()
        stats.update(self._stats(view))
        self.query_one("#search-progress", ProgressBar).update(total=search.total or None, progress=search.done)
        self._plot()
        self._draw_selected()

    def _fill_table(self, force: bool = False) -> None:
        """Show the top ``TOP_ROWS`` of the order; rows are rewritten only when that top changed."""
        top = self.board.top(self._sort, self._reverse, TOP_ROWS, self.front_only)
        indices = [c.index for c in top]
        if indices == self._shown and not force:
            return
        table = self.query_one("#leaderboard", DataTable)
        table.clear()
        self._rows = {str(c.index): c for c in top}
        self._shown = indices
        for c in top:
            table.add_row(*self._cells(c), key=str(c.index))
        if self._pinned is not None and self._pinned in self._rows:
            table.move_cursor(row=table.get_row_index(self._pinned), scroll=True)
        self._update_sort_title()

    def _cells(self, c: Candidate) -> tuple:
        fire = format_percent(c.mean_firing_rate)
        seconds = "-" if c.seconds is None else f"{c.seconds:.2f}"
        return (
            Text(str(c.index), justify="right"),
            Text(format_score(c.score), justify="right"),
            c.arch,
            Text(FRONT_MARK if self.board.on_front(c) else "", style="bold green"),
            Text(format_count(c.sops), justify="right"),
            Text(fire, justify="right"),
            Text(seconds, justify="right"),
            Text(format_count(c.macs), justify="right"),
            Text(format_count(c.params), justify="right"),
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
        # several objectives: the cell best_arch.json holds was chosen by a budget or the knee, not the best score
        line.append("\nchosen " if search.chosen_rule else "\nbest ")
        if best is None:
            line.append("-", style="dim")
        else:
            line.append(f"#{best.index} ", style="bold")
            line.append(format_score(best.score), style="bold green")
            line.append(f"  {best.arch} ({best.celltype})")
        return line

    # --- sorting --------------------------------------------------------------------------------------------
    def _update_sort_title(self) -> None:
        arrow = "▼" if self._sort.descending != self._reverse else "▲"
        title = f"leaderboard by {self._sort.label} {arrow}"
        if self.front_only:
            title = f"front ({len(self._shown)}) by {self._sort.label} {arrow}"
        elif len(self.board) > TOP_ROWS:
            title += f" top {TOP_ROWS}"
        self.query_one("#leaderboard", DataTable).border_title = title

    def sort_by(self, column: str, reverse: bool = False) -> None:
        sort = next((s for s in SORTS if s.column == column), None)
        if sort is None:  # (the front marker's column: no order of its own)
            return
        self._sort = sort
        self._reverse = reverse
        self._fill_table()
        self._update_sort_title()
        self._draw_selected()

    def action_toggle_front(self) -> None:
        """Show only the members of the Pareto front (score vs SOPs), e.g. to train one (t), or everything."""
        self.front_only = not self.front_only
        self._pinned = None
        self._fill_table(force=True)
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

    def _clear_cell(self) -> None:
        cell = self.query_one("#cell", Static)
        cell.border_title = "cell"
        cell.update(Text("no candidate scored yet", style="dim"))
        self._drawn = None

    def _draw_selected(self) -> None:
        cand = self.selected
        if cand is None or self.view is None:
            if self._drawn is not None:
                self._clear_cell()
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

    def _plot(self) -> None:
        """Score against SOPs with the front marked, where the candidates carry their SOPs (else, in runs made
        before, the distribution of the scores). A plot cell shows one point, so each is drawn once, and the plot
        is drawn again only when what it shows changed."""
        widget = self.query_one("#distribution", PlotextPlot)
        if self.board.has_costs:
            size = (2 * max(10, widget.size.width), 4 * max(4, widget.size.height))  # braille: 2x4 dots a cell
            points = self.board.scatter(*size)
            # (no count in the title: a new title would draw the plot again at every poll; the stats line counts)
            title = f"score vs SOPs ({FRONT_MARK} front {len(points[2])})"
            drawn = ("scatter", points)
        else:
            scores = self.view.state.search.finite_scores() if self.view else []
            title = f"score distribution (n={len(scores)})"
            drawn = ("hist", len(scores))
        widget.border_title = title
        if drawn == self._plotted:
            return
        self._plotted = drawn
        plt = widget.plt
        plt.clear_data()
        if drawn[0] == "scatter":
            xs, ys, fx, fy = points
            if xs:
                plt.scatter(xs, ys, marker="braille", color="blue")
                plt.scatter(fx, fy, marker=FRONT_MARK, color="green")  # (no axis label: the title says it)
                ticks = count_ticks(min(xs + fx), max(xs + fx), max(4, widget.size.width // 10))
                plt.xticks(ticks, [format_count(t) for t in ticks])  # 1.2M, not plotext's 1235298.2
        elif scores:
            plt.hist(scores, bins=max(1, min(20, len(scores))))
        widget.refresh()

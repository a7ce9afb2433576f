"""The runs panel: every run directory followed, with its job, status and main figure."""

from __future__ import annotations

import time
from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Static

from snasnet_cli.tui.source import RunView
from snasnet_cli.tui.state import summarize
from snasnet_cli.tui.widgets.common import status_text


@dataclass(frozen=True)
class RunRow:
    """One line: the run, and its status as the dashboard sees it (a job that died says so)."""

    view: RunView
    status: str
    note: str = ""
    under_source: bool = False  # an eval or export shown under the training run it read


class RunsPanel(Vertical):
    """Every run; Enter puts one in focus."""

    class RunChosen(Message):
        def __init__(self, path: object) -> None:
            super().__init__()
            self.path = path

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self._rows: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="runs-stats", classes="stats")
        table = DataTable(id="runs-table", cursor_type="row", zebra_stripes=True)
        table.border_title = "runs (Enter: follow)"
        yield table

    def on_mount(self) -> None:
        table = self.query_one("#runs-table", DataTable)
        for key, label in (("name", "run"), ("job", "job"), ("status", "status"), ("headline", "result"),
                           ("started", "started")):  # fmt: skip
            table.add_column(label, key=key)

    def show(self, rows: list[RunRow], focused: object, where: str) -> None:
        key = (tuple((r.view.path, r.view.state, r.status, r.note, r.under_source) for r in rows), focused)
        if key == self._rows:
            return
        self._rows = key
        stats = f"{len(rows)} run(s) in {where}" if rows else f"no runs in {where} yet: [b]n[/b] starts a job"
        self.query_one("#runs-stats", Static).update(stats)
        table = self.query_one("#runs-table", DataTable)
        cursor = table.cursor_row
        table.clear()
        for row in rows:
            summary = summarize(row.view.state)
            started = row.view.state.started_ts
            when = time.strftime("%m-%d %H:%M", time.localtime(started)) if started else "-"
            branch = "└ " if row.under_source else ""
            name = Text(("▶ " if row.view.path == focused else "  ") + branch + row.view.name)
            # an unreadable run has no figures to show, only why
            parts = (row.note,) if row.view.error else (summary.headline, row.note)
            headline = "; ".join(part for part in parts if part)
            table.add_row(name, summary.job, status_text(row.status), headline, when, key=str(row.view.path))
        if rows:
            table.move_cursor(row=min(cursor, len(rows) - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.post_message(self.RunChosen(event.row_key.value))

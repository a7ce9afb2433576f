"""Small pieces the panels share: how a run and its status are written."""

from __future__ import annotations

from rich.text import Text

from snasnet_cli.tui.source import RunView

STATUS_STYLES = {
    "running": "bold yellow",
    "ok": "bold green",
    "failed": "bold red",
    "died": "bold red",
    "unreadable": "bold red",
    "cancelled": "bold magenta",
    "unknown": "dim",
}


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLES.get(status, ""))


def run_title(view: RunView) -> Text:
    """``search-20260101-120000 running``: which run a panel shows, and how it stands."""
    return Text.assemble((view.name, "bold"), " ", status_text(view.state.status))

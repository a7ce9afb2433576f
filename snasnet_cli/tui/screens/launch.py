"""The job form: which job and its main options; dismissed with a ``JobRequest`` (or None when cancelled)."""

from __future__ import annotations

from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from snasnet_cli.tui.jobs import CELLTYPES, DATASETS, DEVICES, JOBS, JobRequest


def _options(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


class LaunchScreen(ModalScreen[JobRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start")]

    def __init__(self, request: JobRequest) -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="launch-box") as box:
            box.border_title = "new job"
            with Grid(id="launch-form"):
                yield Label("job")
                yield Select(_options(JOBS), value=r.job, allow_blank=False, compact=True, id="job")
                yield Label("dataset")
                yield Select(_options(DATASETS), value=r.dataset, allow_blank=False, compact=True, id="dataset")
                yield Label("celltype")
                yield Select(_options(CELLTYPES), value=r.celltype, allow_blank=False, compact=True, id="celltype")
                yield Label("num-search")
                yield Input(str(r.num_search), type="integer", compact=True, id="num-search")
                yield Label("epochs")
                yield Input(str(r.epochs), type="integer", compact=True, id="epochs")
                yield Label("device")
                yield Select(_options(DEVICES), value=r.device, allow_blank=False, compact=True, id="device")
            yield Static(self._source_line(r), id="launch-source")
            yield Static("", id="launch-error")
            with Horizontal(classes="buttons"):
                yield Button("Start (ctrl+s)", variant="primary", id="start")
                yield Button("Cancel (Esc)", id="cancel")

    @staticmethod
    def _source_line(r: JobRequest) -> str:
        parts = []
        if r.from_search is not None:
            parts.append(f"train: best of {r.from_search.name}")
        elif r.arch_file is not None:
            parts.append(f"train: {r.arch_file.name}")
        if r.checkpoint is not None:
            parts.append(f"eval/export: {r.checkpoint}")
        return "; ".join(parts) or "train/eval/export: select a search or training run first (runs panel)"

    def read(self) -> JobRequest:
        def number(widget_id: str, fallback: int) -> int:
            text = self.query_one(f"#{widget_id}", Input).value.strip()
            return int(text) if text.lstrip("-").isdigit() else fallback

        return replace(
            self.request,
            job=str(self.query_one("#job", Select).value),
            dataset=str(self.query_one("#dataset", Select).value),
            celltype=str(self.query_one("#celltype", Select).value),
            num_search=number("num-search", 0),
            epochs=number("epochs", 0),
            device=str(self.query_one("#device", Select).value),
        )

    def action_start(self) -> None:
        request = self.read()
        problem = request.problem()
        if problem:
            self.query_one("#launch-error", Static).update(f"[red]{problem}[/red]")
            return
        self.dismiss(request)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "start":
            self.action_start()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_start()

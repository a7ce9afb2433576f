"""Asked before quitting while jobs started here still run."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ConfirmQuitScreen(ModalScreen[bool]):
    """Dismissed with True to cancel the jobs and quit, False to stay."""

    BINDINGS = [Binding("escape", "stay", "Stay"), Binding("y", "quit_anyway", "Cancel jobs and quit")]

    def __init__(self, running: int) -> None:
        super().__init__()
        self.running = running

    def compose(self) -> ComposeResult:
        with Vertical(id="quit-box"):
            yield Static(
                f"{self.running} job(s) started here still run. Quitting cancels them: each checkpoints and "
                "records 'cancelled' (a training can be resumed)."
            )
            with Horizontal(classes="buttons"):
                yield Button("Cancel jobs and quit (y)", variant="error", id="quit-anyway")
                yield Button("Stay (Esc)", variant="primary", id="stay")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "quit-anyway")

    def action_stay(self) -> None:
        self.dismiss(False)

    def action_quit_anyway(self) -> None:
        self.dismiss(True)

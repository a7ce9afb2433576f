"""The log panel: what the job in focus printed (its stderr), how it ended, and what the reader skipped."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Log, Static

from snasnet_cli.tui.jobs import Job
from snasnet_cli.tui.source import RunView
from snasnet_cli.tui.state import summarize
from snasnet_cli.tui.widgets.common import run_title


class LogPanel(Vertical):
    """Shows the output of the focused run's job (when this dashboard started it)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)
        self.job: Job | None | bool = False  # False: nothing shown yet
        self._shown = 0
        self._header: tuple | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="log-stats", classes="stats")
        log = Log(id="job-log", highlight=False)
        log.border_title = "job output (stderr)"
        yield log

    def on_mount(self) -> None:
        self.show(None, None)

    def show(self, view: RunView | None, job: Job | None) -> None:
        log = self.query_one("#job-log", Log)
        if job is not self.job:
            self.job = job
            self._shown = 0
            log.clear()
            if job is None:
                log.write_line("Output is captured for jobs started from this dashboard (n, t, e, x).")
        if job is not None and len(job.output) > self._shown:
            log.write_lines(job.output[self._shown :])
            self._shown = len(job.output)
        header = (view.path if view else None, view.state if view else None,
                  view.skipped if view else 0, job.returncode if job else None)  # fmt: skip
        if header != self._header:
            self._header = header
            self.query_one("#log-stats", Static).update(self._stats(view, job))

    def _stats(self, view: RunView | None, job: Job | None) -> Text:
        line = run_title(view) if view is not None else Text("no run in focus")
        if job is not None:  # how the process ended, and the command it ran
            line.append(f"  {job.describe_exit()}")
            line.append("\n$ snasnet " + " ".join(job.argv[3:]), style="dim")
        else:  # a run this dashboard did not start: its result
            line.append(f"  {summarize(view.state).headline}" if view is not None else "")
            line.append("\n")
        if view is not None and view.state.error and view.state.status != "cancelled":
            line.append(f"\nerror: {view.state.error}", style="red")
        if view is not None and view.skipped:
            line.append(f"\n{view.skipped} malformed line(s) of events.jsonl skipped", style="yellow")
        return line

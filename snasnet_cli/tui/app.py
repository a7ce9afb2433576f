"""The dashboard application: panels in tabs, a poll of the run directories on a worker thread, jobs as processes.

``make_app(path)`` builds it for the command line; tests build ``DashboardApp(source)`` with a source over prepared
run directories (or any object with ``poll()``, ``add()`` and ``jobs_root``). Nothing here blocks the UI thread on
the disk: the source is polled from a thread worker, one poll at a time, and its result is applied on the UI thread.
A poll that fails is shown (once per message) and the next one tries again.
"""

from __future__ import annotations

import asyncio
import sys
from dataclasses import replace
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Footer, Static, TabbedContent, TabPane

from snasnet.core.errors import StorageError
from snasnet_cli.tui.jobs import Job, JobRequest, write_arch_file
from snasnet_cli.tui.screens.help import HelpScreen
from snasnet_cli.tui.screens.launch import LaunchScreen
from snasnet_cli.tui.screens.quit import ConfirmQuitScreen
from snasnet_cli.tui.source import RunsSource, RunView, grouped_by_source, local_checkpoint
from snasnet_cli.tui.state import Candidate, SpikeReading
from snasnet_cli.tui.widgets.common import status_text
from snasnet_cli.tui.widgets.log import LogPanel
from snasnet_cli.tui.widgets.runs import RunRow, RunsPanel
from snasnet_cli.tui.widgets.search import SearchPanel
from snasnet_cli.tui.widgets.spikes import SpikesPanel
from snasnet_cli.tui.widgets.training import TrainingPanel

PANELS = ("search", "training", "spikes", "log", "runs")
#: seconds a cancelled job gets to checkpoint and exit when the dashboard quits
QUIT_GRACE_S = 30.0


class DashboardApp(App[None]):
    CSS_PATH = "dashboard.tcss"
    TITLE = "snasnet"
    ENABLE_COMMAND_PALETTE = False  # its footer key does not fit 80 columns beside ours; ? lists every key
    BINDINGS = [
        *(Binding(str(i), f"show_panel('{name}')", name.title(), show=False) for i, name in enumerate(PANELS, 1)),
        Binding("n", "new_job", "New"),
        Binding("t", "train_selected", "Train"),
        Binding("e", "evaluate", "Eval"),
        Binding("x", "export", "Export"),
        Binding("c", "cancel_job", "Cancel"),
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit_dashboard", "Quit"),
    ]

    def __init__(
        self,
        source: RunsSource,
        *,
        poll_interval: float = 0.5,
        python: str = sys.executable,
        defaults: JobRequest | None = None,
        job_options: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        """``job_options``: more options per command for the jobs started here, e.g.
        ``{"search": ("--batch-size", "64")}``."""
        super().__init__()
        self.job_options = job_options or {}
        self.source = source
        self.poll_interval = poll_interval
        self.python = python
        self.defaults = defaults or JobRequest()
        self.views: dict[Path, RunView] = {}
        self.jobs: dict[Path, Job] = {}  # by run directory
        self.followed: Path | None = None  # the run the spikes and log panels show
        self.current: dict[str, Path] = {}  # the run the search / training panel shows
        self.chosen: Candidate | None = None
        self.polls = 0  # polls applied (tests wait on it)
        self._polling = False
        self._poll_errors: set[str] = set()

    # --- layout ---------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        with TabbedContent(initial="search", id="panels"):
            with TabPane("1 Search", id="search"):
                yield SearchPanel(id="search-panel")
            with TabPane("2 Training", id="training"):
                yield TrainingPanel(id="training-panel")
            with TabPane("3 Spikes", id="spikes"):
                yield SpikesPanel(id="spikes-panel")
            with TabPane("4 Log", id="log"):
                yield LogPanel(id="log-panel")
            with TabPane("5 Runs", id="runs"):
                yield RunsPanel(id="runs-panel")
        yield Static(id="status-line")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(self.poll_interval, self.poll)
        self.poll()

    # --- following the runs ---------------------------------------------------------------------------------
    def poll(self) -> None:
        """Read what the runs appended, on a worker thread; skipped while the previous poll is still reading."""
        if self._polling:
            return
        self._polling = True
        self._poll_source()

    @work(thread=True, group="poll", exit_on_error=False)
    def _poll_source(self) -> None:
        try:
            views, changed = self.source.poll()
        except Exception as exc:  # a broken disk or source must not take the dashboard down: show it, retry
            self.call_from_thread(self._poll_failed, f"{type(exc).__name__}: {exc}")
            return
        finally:
            self._polling = False
        self.call_from_thread(self._apply, views, changed)

    def _poll_failed(self, message: str) -> None:
        if message not in self._poll_errors:
            self._poll_errors.add(message)
            self.notify(f"reading the runs failed: {message}", severity="error", timeout=10)

    def _apply(self, views: list[RunView], changed: bool) -> None:
        self.polls += 1
        self.views = {v.path: v for v in views}
        if self.followed is None and views:
            # the newest run, on its own panel (a training's curves, not an empty search panel)
            newest = max(views, key=lambda v: v.state.started_ts or 0.0)
            self.focus_run(newest.path, switch=False)
            panel = {"search": "search", "train": "training"}.get(newest.state.job or "")
            if panel:  # after the tabs' own first activation, which would undo it
                self.call_after_refresh(self.action_show_panel, panel)
        for path, view in self.views.items():
            if view.state.job in ("search", "train") and view.state.job not in self.current:
                self.current[view.state.job] = path
        if changed or self.jobs:
            self.refresh_panels()

    def focus_run(self, path: Path, switch: bool = True) -> None:
        """Show this run: in the search or training panel by its job, and in the spikes and log panels."""
        path = Path(path)
        self.followed = path
        view = self.views.get(path)
        job = view.state.job if view is not None else None
        job = job or (self.jobs[path].request.job if path in self.jobs else None)
        if job in ("search", "train"):
            self.current[job] = path
        self.chosen = None
        self.refresh_panels()
        if switch:
            self.action_show_panel({"search": "search", "train": "training"}.get(job or "", "log"))

    def _main(self, selector: str | type, kind: type | None = None) -> Widget:
        """A widget of the dashboard's own screen, also while the help or the job form is shown over it."""
        screen = self.screen_stack[0]
        return screen.query_one(selector, kind) if kind else screen.query_one(selector)

    def refresh_panels(self) -> None:
        if not self.screen_stack or not self.screen_stack[0].is_attached:
            return  # closing
        search = self.views.get(self.current.get("search"))
        self._main(SearchPanel).show(search)
        self._main(TrainingPanel).show(self.views.get(self.current.get("train")))
        focused = self.views.get(self.followed) if self.followed else None
        self._main(SpikesPanel).show(focused, self._spike_reading(focused))
        self._main(LogPanel).show(focused, self.jobs.get(self.followed) if self.followed else None)
        rows = sorted(self.views.values(), key=lambda v: v.state.started_ts or float("inf"), reverse=True)
        where = str(self.source.root) if getattr(self.source, "root", None) else "the runs given"
        shown = [replace(self._row(v), under_source=under) for v, under in grouped_by_source(rows)]
        self._main(RunsPanel).show(shown, self.followed, where)
        self._status_line(focused)

    def _spike_reading(self, view: RunView | None) -> SpikeReading | None:
        if view is None:
            return None
        if self.chosen is not None and view.state.job == "search":
            c = self.chosen
            label = f"candidate #{c.index} at initialisation (firing rates only)"
            return SpikeReading(label, c.firing_rates, reported_mean_firing_rate=c.mean_firing_rate, arch=c.arch)
        return view.state.spikes

    def _row(self, view: RunView) -> RunRow:
        status, note = self._status(view)
        job = self.jobs.get(view.path)
        if view.state.job is None and job is not None:  # a job that died before writing its run directory
            view = replace(view, state=replace(view.state, job=job.request.job))
        return RunRow(view, status, note)

    def _status(self, view: RunView) -> tuple[str, str]:
        """The run's status, and a note when its process (started here) ended without saying how."""
        job = self.jobs.get(view.path)
        status = view.state.status
        if view.error is not None:
            return "unreadable", view.error
        if job is not None and job.returncode is not None and not view.state.finished:
            return ("died" if job.returncode != 0 else status), job.describe_exit()
        if job is not None and job.returncode is None and status == "unknown":
            return "running", "starting"
        return status, ""

    def _status_line(self, focused: RunView | None) -> None:
        line = Text()
        if focused is None:
            line.append("no run in focus", style="dim")
        else:
            status, note = self._status(focused)
            line.append(f"▶ {focused.name} ", style="bold")
            line.append_text(status_text(status))
            line.append(f" {note}" if note else "")
            if focused.skipped:
                line.append(f"   {focused.skipped} malformed line(s) skipped", style="yellow")
        running = sum(job.running for job in self.jobs.values())
        line.append(f"   jobs running: {running}" if running else "")
        self._main("#status-line", Static).update(line)

    # --- messages from the panels ---------------------------------------------------------------------------
    def on_search_panel_candidate_chosen(self, message: SearchPanel.CandidateChosen) -> None:
        self.chosen = message.candidate
        if self.followed == message.run.path and self.screen_stack:
            self._main(SpikesPanel).show(message.run, self._spike_reading(message.run))

    def on_runs_panel_run_chosen(self, message: RunsPanel.RunChosen) -> None:
        self.focus_run(Path(message.path))

    # --- keys -----------------------------------------------------------------------------------------------
    def action_show_panel(self, name: str) -> None:
        self._main(TabbedContent).active = name

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        # the panel's table takes the keys at once: arrows move in the leaderboard, Enter follows a run
        target = {"search": "#leaderboard", "spikes": "#layers", "log": "#job-log", "runs": "#runs-table"}
        if event.pane.id in target:
            self._main(target[event.pane.id]).focus()

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def _form_defaults(self) -> JobRequest:
        """A new form: no job kind chosen, the last options used, the architecture and checkpoint of the runs in
        focus."""
        request = replace(self.defaults, job="")
        search = self.views.get(self.current.get("search"))
        if search is not None and search.state.search.best is not None:
            train = self._train_request(search, self._main(SearchPanel).selected)
            if train is not None:  # what a train job would train
                request = replace(request, from_search=train.from_search, arch_file=train.arch_file)
        checkpoint = self._checkpoint()
        return replace(request, checkpoint=checkpoint) if checkpoint else request

    def action_new_job(self) -> None:
        def started(request: JobRequest | None) -> None:
            if request is not None:
                self.launch(request)

        self.push_screen(LaunchScreen(self._form_defaults()), started)

    def _train_request(self, search: RunView, candidate: Candidate | None) -> JobRequest | None:
        s = search.state.search
        best = s.best
        candidate = candidate or best
        if candidate is None:
            return None
        config = search.info.get("config")  # run.json as written by hand or by another version: maybe not an object
        stored = config.get("dataset") if isinstance(config, dict) else None
        dataset = s.dataset or (stored if isinstance(stored, str) else None) or self.defaults.dataset
        base = replace(self.defaults, job="train", dataset=dataset, celltype=candidate.celltype)
        if s.finished and best is not None and candidate.index == best.index:
            return replace(base, from_search=search.path, arch_file=None)
        try:
            arch_file = write_arch_file(
                self.source.jobs_root, f"{search.name}-candidate-{candidate.index}", candidate.arch, candidate.celltype
            )
        except StorageError as exc:  # a read-only runs folder: say so, the dashboard stays up
            self.notify(f"cannot train candidate #{candidate.index}: {exc}", severity="error", timeout=10)
            return None
        return replace(base, from_search=None, arch_file=arch_file)

    def action_train_selected(self) -> None:
        search = self.views.get(self.current.get("search"))
        if search is None or search.state.search.best is None:
            self.notify("no scored candidate yet: start a search (n) or follow one (5)", severity="warning")
            return
        request = self._train_request(search, self._main(SearchPanel).selected)
        if request is not None:
            self.launch(request)

    def _checkpoint(self) -> Path | None:
        """The best (else last) checkpoint of the training in focus, as a path a job can open."""
        train = self.views.get(self.current.get("train"))
        if train is None or not train.state.train.checkpoints:
            return None
        saved = train.state.train.checkpoints
        chosen = next((c for c in reversed(saved) if c.kind == "best"), saved[-1])
        return local_checkpoint(train.path, chosen.path)  # in the run followed here, wherever it was written

    def _checkpoint_job(self, job: str) -> None:
        checkpoint = self._checkpoint()
        if checkpoint is None:
            self.notify(f"{job} needs a checkpoint: follow a training run that saved one (5)", severity="warning")
            return
        if not checkpoint.is_file():
            self.notify(f"checkpoint not found: {checkpoint} (not synced or copied with the run?)", severity="error")
            return
        train = self.views[self.current["train"]]
        dataset = train.state.train.dataset or self.defaults.dataset
        self.launch(replace(self.defaults, job=job, checkpoint=checkpoint, dataset=dataset))

    def action_evaluate(self) -> None:
        self._checkpoint_job("eval")

    def action_export(self) -> None:
        self._checkpoint_job("export")

    def action_cancel_job(self) -> None:
        view = self.views.get(self.followed) if self.followed else None
        job = self.jobs.get(self.followed) if self.followed else None
        if view is not None and (view.state.finished or (job is not None and job.returncode is not None)):
            # the run in focus has ended: say how, and show it (the panels may not have caught up yet)
            self.poll()
            status, _ = self._status(view)
            self.notify(f"{view.name} has already ended ({status}): nothing to cancel", severity="warning")
            return
        if job is None or not job.running:
            job = next((j for j in reversed(list(self.jobs.values())) if j.running), None)
        if job is None:
            self.notify("no job started from this dashboard is running", severity="warning")
            return
        if job.cancel_requested:
            self.notify(f"{job.run_dir.name} is already stopping (it checkpoints first)")
            return
        job.cancel()
        self.notify(f"cancelling {job.run_dir.name}: it checkpoints and records 'cancelled'")

    # --- jobs -----------------------------------------------------------------------------------------------
    def launch(self, request: JobRequest) -> Job | None:
        """Start a job process and follow the run directory it writes."""
        problem = request.problem()
        if problem:
            self.notify(problem, severity="error")
            return None
        # the form's last options are the next defaults (not the per-run architecture or checkpoint)
        self.defaults = replace(request, from_search=None, arch_file=None, checkpoint=None)
        options = self.job_options.get(request.job, ())
        job = Job(request, self.source.jobs_root, taken=set(self.jobs), python=self.python, options=options)
        self.jobs[job.run_dir] = job
        self.source.add(job.run_dir)
        self._run_job(job)
        self.focus_run(job.run_dir)
        self.notify(f"started {request.job}: {job.run_dir}")
        return job

    @work(group="jobs", exit_on_error=False)
    async def _run_job(self, job: Job) -> None:
        def line(_: str) -> None:
            if self.followed == job.run_dir:
                self._main(LogPanel).show(self.views.get(job.run_dir), job)

        await job.run(line)
        self.poll()
        await asyncio.sleep(self.poll_interval)  # let the last events be read before saying how it ended
        view = self.views.get(job.run_dir)
        state = view.state if view is not None else None
        if state is not None and state.finished:
            severity = {"ok": "information", "cancelled": "warning"}.get(state.status, "error")
            error = f": {state.error}" if state.error and state.status != "cancelled" else ""
            self.notify(f"{job.run_dir.name} {state.status}{error}", severity=severity, timeout=8)
        elif job.returncode != 0:
            self.notify(f"{job.run_dir.name} {job.describe_exit()}", severity="error", timeout=15)
        self.refresh_panels()

    # --- quitting -------------------------------------------------------------------------------------------
    def action_quit_dashboard(self) -> None:
        running = [j for j in self.jobs.values() if j.running]
        if not running:
            self.exit()
            return

        def answered(quit_anyway: bool | None) -> None:
            if quit_anyway:
                self._cancel_all_and_exit()

        self.push_screen(ConfirmQuitScreen(len(running)), answered)

    @work(group="quit", exclusive=True)
    async def _cancel_all_and_exit(self) -> None:
        running = [j for j in self.jobs.values() if j.running]
        for job in running:
            job.cancel()
        self.notify(f"waiting for {len(running)} job(s) to checkpoint and stop")
        deadline = asyncio.get_running_loop().time() + QUIT_GRACE_S
        while any(j.running for j in running) and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.1)
        self.exit()


def make_app(path: Path | str = "runs", **options: object) -> DashboardApp:
    """The dashboard over a run directory (followed alone) or a directory of runs (``runs/`` by default)."""
    return DashboardApp(RunsSource.for_path(Path(path)), **options)

"""The job form: which job and its main options; dismissed with a ``JobRequest`` (or None when cancelled).

It opens with no job kind chosen (the person picks it: the last job's kind would be a guess). A number left empty
is left out of the command, so the job takes the command line's own default; the empty field shows that default
(the dataset's epochs come from the training recipe, ``snasnet.train.recipe``, which needs no torch).

The datasets it offers are the library's registry's names. That registry's module loads torch, which the
dashboard's process never does, so a Python process of its own reads them once, while the form is already
open (it offers the request's dataset until then, and says so if the names cannot be read).
"""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import replace

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from snasnet.core.errors import SnasnetError
from snasnet.network.arch import CELLTYPES
from snasnet.network.norms import NORMS
from snasnet.network.presets import norm_for_dataset
from snasnet.train.recipe import train_config
from snasnet_cli.options import DATASET_REGISTRY
from snasnet_cli.tui.jobs import DEVICES, JOBS, JobRequest

_names: dict[str, tuple[str, ...]] = {}  # registry -> its names, read once per dashboard


def _options(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


DEFAULT = "default"  # the norm field's choice that leaves --norm out


def norm_choices(dataset: str) -> list[tuple[str, str]]:
    """The norm field's options: the dataset's default first (left out of the command), then every option."""
    return [(f"default ({norm_for_dataset(dataset)})", DEFAULT), *_options(tuple(NORMS.names()))]


def default_epochs(dataset: str) -> str:
    """The placeholder of the epochs field: the dataset's default, as ``snasnet train`` takes it."""
    try:
        return f"{train_config(dataset).epochs} ({dataset}'s default)"
    except SnasnetError:
        return "the dataset's default"


async def registry_choices(registry: str) -> tuple[str, ...]:
    """The names registered in ``registry`` (``"module:NAME"``), read by another Python process."""
    if registry not in _names:
        code = (
            "import json; from snasnet_cli.options import registry_names; "
            f"print(json.dumps(registry_names({registry!r})))"
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        try:
            out, err = await process.communicate()
        except asyncio.CancelledError:  # the form closed first: leave no process behind
            process.kill()
            await process.wait()
            raise
        if process.returncode:
            lines = err.decode(errors="replace").strip().splitlines() or [f"exit status {process.returncode}"]
            raise RuntimeError(lines[-1])
        _names[registry] = tuple(json.loads(out.decode().strip().splitlines()[-1]))
    return _names[registry]


class LaunchScreen(ModalScreen[JobRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "start", "Start")]

    def __init__(self, request: JobRequest) -> None:
        super().__init__()
        self.request = request
        self.dataset_choices: tuple[str, ...] = _names.get(DATASET_REGISTRY, (request.dataset,))

    def compose(self) -> ComposeResult:
        r = self.request
        with Vertical(id="launch-box") as box:
            box.border_title = "new job"
            with Grid(id="launch-form"):
                yield Label("job")
                job = r.job if r.job in JOBS else Select.NULL
                yield Select(_options(JOBS), value=job, prompt="choose a job", compact=True, id="job")
                yield Label("dataset")
                datasets = _options(self.dataset_choices)
                yield Select(datasets, value=r.dataset, allow_blank=False, compact=True, id="dataset")
                yield Label("celltype")
                yield Select(_options(CELLTYPES), value=r.celltype, allow_blank=False, compact=True, id="celltype")
                yield Label("num-search")
                yield self._number(r.num_search, "snasnet search's default", "num-search")
                yield Label("epochs")
                yield self._number(r.epochs, default_epochs(r.dataset), "epochs")
                yield Label("norm (train)")
                norm = r.norm if r.norm in NORMS.names() else DEFAULT
                yield Select(norm_choices(r.dataset), value=norm, allow_blank=False, compact=True, id="norm")
                yield Label("seed")
                yield self._number(r.seed, "0", "seed")
                yield Label("data-dir")
                yield Input(r.data_dir or "", placeholder="$SNASNET_DATA or ./data", compact=True, id="data-dir")
                yield Label("device")
                yield Select(_options(DEVICES), value=r.device, allow_blank=False, compact=True, id="device")
            yield Static(self._source_line(r), id="launch-source")
            yield Static("", id="launch-error")
            with Horizontal(classes="buttons"):
                yield Button("Start (ctrl+s)", variant="primary", id="start")
                yield Button("Cancel (Esc)", id="cancel")

    @staticmethod
    def _number(value: int | None, default: str, widget_id: str) -> Input:
        text = "" if value is None else str(value)
        return Input(text, placeholder=f"default: {default}", type="integer", compact=True, id=widget_id)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "dataset" and isinstance(event.value, str):
            self.query_one("#epochs", Input).placeholder = f"default: {default_epochs(event.value)}"
            norm = self.query_one("#norm", Select)
            chosen = norm.value
            norm.set_options(norm_choices(event.value))  # the default's name follows the dataset
            norm.value = chosen
            norm.mutate_reactive(Select.value)  # the same value is no change to textual: show the new label

    def on_mount(self) -> None:
        if DATASET_REGISTRY not in _names:
            self.run_worker(self._read_datasets(), exclusive=True)

    async def _read_datasets(self) -> None:
        try:
            names = await registry_choices(DATASET_REGISTRY)
        except (OSError, RuntimeError, ValueError) as exc:
            self.query_one("#launch-error", Static).update(f"[red]could not list the datasets: {exc}[/red]")
            return
        select = self.query_one("#dataset", Select)
        chosen = select.value
        self.dataset_choices = names
        select.set_options(_options(names))
        if chosen in names:
            select.value = chosen

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
        def number(widget_id: str) -> int | None:
            text = self.query_one(f"#{widget_id}", Input).value.strip()
            return int(text) if text.lstrip("-").isdigit() else None  # empty: the command's default

        job = self.query_one("#job", Select).value
        norm = self.query_one("#norm", Select).value
        return replace(
            self.request,
            job="" if job is Select.NULL else str(job),
            dataset=str(self.query_one("#dataset", Select).value),
            celltype=str(self.query_one("#celltype", Select).value),
            num_search=number("num-search"),
            epochs=number("epochs"),
            seed=number("seed"),
            norm=None if norm == DEFAULT else str(norm),
            data_dir=self.query_one("#data-dir", Input).value.strip() or None,
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

"""Jobs started from the dashboard: each is ``python -m snasnet_cli <command> ... --run-dir DIR --quiet`` in a
process of its own (PyTorch never runs in the dashboard's process), writing the run directory the dashboard follows.

``JobRequest`` is what the launch form produces and turns into the command line; ``Job`` runs it with asyncio (the
dashboard's event loop), hands each line the job prints to a callback, and cancels it with SIGINT, which the jobs
treat as Ctrl-C: they checkpoint and record ``run_finished`` with status ``cancelled``.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from snasnet.core.atomic import write_text
from snasnet.core.errors import StorageError
from snasnet.core.runs import default_run_dir

JOBS = ("search", "train", "eval", "export")
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class JobRequest:
    """The main options of one job, as the launch form collects them. An option left None is left out of the
    command line, so the job takes the command's own default (the dataset's recipe for the epochs)."""

    job: str = "search"  # "": not chosen yet (a new form)
    dataset: str = "digits"
    celltype: str = "backward"
    num_search: int | None = None
    epochs: int | None = None
    seed: int | None = None
    norm: str | None = None  # train: what batch norms normalise with (snasnet.network.norms); None: the dataset's
    data_dir: str | None = None
    device: str = "auto"
    from_search: Path | None = None  # train the best architecture of this search run
    arch_file: Path | None = None  # or the architecture in this file ({"arch": ..., "celltype": ...})
    checkpoint: Path | None = None  # eval / export: the checkpoint to read

    def problem(self) -> str | None:
        """What is missing or wrong, in one line (None when the job can start)."""
        if not self.job:
            return f"choose a job: {', '.join(JOBS)}"
        if self.job not in JOBS:
            return f"unknown job {self.job!r}: choose one of {', '.join(JOBS)}"
        if self.job == "search" and self.num_search is not None and self.num_search < 1:
            return "num-search must be at least 1"
        if self.job == "train" and self.epochs is not None and self.epochs < 1:
            return "epochs must be at least 1"
        if self.job == "train" and self.from_search is None and self.arch_file is None:
            return "train needs an architecture: select a search run or a candidate first"
        if self.job in ("eval", "export") and self.checkpoint is None:
            return f"{self.job} needs a checkpoint: select a training run that saved one"
        return None

    def command(self, run_dir: Path) -> list[str]:
        """The job's command line (the same a person would type after ``snasnet``)."""
        common = ["--device", self.device, "--run-dir", str(run_dir), "--quiet"]
        data = ["--dataset", self.dataset, *self._given("--data-dir", self.data_dir)]
        if self.job == "search":
            return ["search", *data, *self._given("--num-search", self.num_search), "--celltype", self.celltype,
                    *self._given("--seed", self.seed), *common]  # fmt: skip
        if self.job == "train":
            source = (
                ["--from-search", str(self.from_search)] if self.from_search else ["--arch-file", str(self.arch_file)]
            )
            return ["train", *data, *self._given("--epochs", self.epochs), *self._given("--seed", self.seed),
                    *self._given("--norm", self.norm), *source, *common]  # fmt: skip
        if self.job == "eval":
            return ["eval", str(self.checkpoint), *data, *common]
        return ["export", "onnx", str(self.checkpoint), *self._given("--data-dir", self.data_dir), "--run-dir",
                str(run_dir), "--quiet"]  # fmt: skip

    @staticmethod
    def _given(option: str, value: object) -> list[str]:
        return [] if value is None else [option, str(value)]


def write_arch_file(root: Path, name: str, arch: str, celltype: str) -> Path:
    """Save one architecture for ``train --arch-file``, in a hidden folder of the runs root (not a run itself)."""
    folder = Path(root) / ".tui"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(f"cannot create {folder}: {exc.strerror or exc}") from None
    path = folder / f"{name}.json"
    return write_text(path, json.dumps({"arch": arch, "celltype": celltype}) + "\n")


class Job:
    """One job process started from the dashboard."""

    def __init__(
        self,
        request: JobRequest,
        root: Path,
        *,
        taken: set[Path] = frozenset(),
        python: str = sys.executable,
        options: tuple[str, ...] = (),
    ) -> None:
        """``options``: more options for the command, as typed after it (``--batch-size 64``)."""
        self.request = request
        base = self.run_dir = default_run_dir(request.job, root)
        # two jobs started within a second: the first may not have made its directory yet
        n = 2
        while self.run_dir in taken or self.run_dir.exists():
            self.run_dir = base.with_name(f"{base.name}-{n}")
            n += 1
        self.argv = [python, "-m", "snasnet_cli", *request.command(self.run_dir), *options]
        self.output: list[str] = []
        self.returncode: int | None = None
        self.cancel_requested = False
        self._process: asyncio.subprocess.Process | None = None

    @property
    def running(self) -> bool:
        return self._process is not None and self.returncode is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def run(self, on_line: Callable[[str], None] | None = None) -> int:
        """Start the process, pass on each line it prints (stderr and stdout), and return its exit code."""
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                env=env,
                # its own session: keys pressed in the dashboard's terminal never reach the job as signals
                start_new_session=True,
            )
        except OSError as exc:
            self._say(f"could not start {' '.join(self.argv)}: {exc}", on_line)
            self.returncode = 127
            return self.returncode
        assert self._process.stdout is not None
        async for raw in self._process.stdout:
            self._say(raw.decode(errors="replace").rstrip("\r\n"), on_line)
        self.returncode = await self._process.wait()
        return self.returncode

    def _say(self, line: str, on_line: Callable[[str], None] | None) -> None:
        self.output.append(line)
        if on_line is not None:
            on_line(line)

    def cancel(self) -> bool:
        """Ask the job to stop as after Ctrl-C (it checkpoints and records ``cancelled``). False if not running."""
        if not self.running or self._process is None:
            return False
        self.cancel_requested = True
        try:
            self._process.send_signal(signal.SIGINT)
        except ProcessLookupError:
            return False
        return True

    def describe_exit(self) -> str:
        """One line on how the process ended, with the last thing it printed when it failed."""
        if self.returncode is None:
            return f"running (pid {self.pid})" if self.pid else "starting"
        if self.returncode == 0:
            return "exited ok"
        last = next((line.strip() for line in reversed(self.output) if line.strip()), "")
        how = f"killed by signal {-self.returncode}" if self.returncode < 0 else f"exited with status {self.returncode}"
        return f"{how}: {last}" if last else how

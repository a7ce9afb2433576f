"""Running the `snasnet` command as a user's shell, Slurm or Kubernetes would: in a process group of its own,
so that a signal can go to the whole group (``os.killpg``), DataLoader workers included."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

DIGITS = ["--dataset", "digits", "--arch", "0200", "0020", "0002", "0000", "--celltype", "forward", "--timesteps", "2"]


def start(*args: str) -> subprocess.Popen:
    """``snasnet ARGS`` in a new session (its own process group), one thread, output captured."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "snasnet_cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        start_new_session=True,
    )


def events(run_dir: Path) -> list[dict]:
    try:
        lines = (run_dir / "events.jsonl").read_text().splitlines()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in lines if line.endswith("}")]


def wait_for_event(process: subprocess.Popen, run_dir: Path, name: str, timeout: float = 240.0) -> dict:
    """The first ``name`` event of ``run_dir``; fails with the process's output if it ends or the time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = [e for e in events(run_dir) if e["event"] == name]
        if found:
            return found[0]
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the job ended (exit {process.returncode}) before {name}:\n{out}\n{err}")
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"no {name} event in {timeout} s")


def wait_for_ready_workers(process: subprocess.Popen, count: int, timeout: float = 120.0) -> list[int]:
    """The PIDs of ``count`` child processes of ``process`` that have blocked SIGTERM, i.e. DataLoader workers
    whose ``worker_init_fn`` (``snasnet.core.interrupts.ignore_stop_signals``) has run (read from /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        except OSError:
            children = []
        ready = [int(c) for c in children if _blocks_sigterm(int(c))]
        if len(ready) >= count:
            return ready
        if process.poll() is not None:
            raise AssertionError(f"the job ended (exit {process.returncode}) before {count} workers were ready")
        time.sleep(0.02)
    raise AssertionError(f"no {count} ready workers in {timeout} s")


def _blocks_sigterm(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = next((line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), "0")
    return bool(int(mask, 16) >> (15 - 1) & 1)  # bit 14: SIGTERM (15)

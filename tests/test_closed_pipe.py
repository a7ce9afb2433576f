"""Output to a closed pipe never costs work (issue 24, item 1): ``snasnet train ... | head -1`` saves the epoch
whose line could not be printed, stops as after Ctrl-C (resumable, ``cancelled``) and exits 141 (128 + SIGPIPE);
``snasnet export energy ... | head -1`` writes its report and records ``ok``. Before, rich turned the broken pipe
into SystemExit(1) inside the run's listener: no checkpoint, ``run.json`` left ``running``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import torch

from snasnet.network.checkpoint import save_checkpoint
from snasnet.network.model import build_model
from tests.cli_process import DIGITS


def head_1(tmp_path, *args: str) -> tuple[str, int, str]:
    """``snasnet ARGS | head -1``: the first line of stdout, then the pipe closed; the exit status, stderr."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with open(tmp_path / "stderr.txt", "w+") as err:
        job = subprocess.Popen([sys.executable, "-m", "snasnet_cli", *args], stdout=subprocess.PIPE, stderr=err,
                               text=True, env=env)  # fmt: skip
        first = job.stdout.readline()
        job.stdout.close()  # head -1 has what it wanted and ends
        code = job.wait(timeout=300)
        err.seek(0)
        return first, code, err.read()


def test_training_into_a_closed_pipe_saves_the_epoch_and_stops_resumably(tmp_path):
    run_dir = tmp_path / "run"
    first, code, err = head_1(tmp_path, "train", *DIGITS, "--batch-size", "128", "--epochs", "3", "--workers", "0",
                              "--run-dir", str(run_dir))  # fmt: skip
    assert first.startswith("training 0200 0020 0002 0000 (forward) on digits")
    assert code == 141, err
    assert "Traceback" not in err
    last = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert last["epoch"] >= 1  # the epoch whose line met the closed pipe was kept
    assert (run_dir / "checkpoints" / "best.pt").is_file()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "cancelled" and last["epoch"] < 3


def test_an_energy_report_into_a_closed_pipe_is_written_whole(tmp_path):
    checkpoint = save_checkpoint(tmp_path / "best.pt", build_model("digits", "0200 0020 0002 0000",
                                                                   celltype="forward", timesteps=2))  # fmt: skip
    out = tmp_path / "report"
    first, code, err = head_1(tmp_path, "export", "energy", str(checkpoint), "--dataset", "digits", "--batches", "1",
                              "--batch-size", "8", "-o", str(out), "--run-dir", str(tmp_path / "export"))  # fmt: skip
    assert first.startswith("run directory:")
    assert code == 141, err
    assert "Traceback" not in err
    assert sorted(p.name for p in out.iterdir()) == ["energy.csv", "energy.json", "energy.png"]
    assert json.loads((tmp_path / "export" / "run.json").read_text())["status"] == "ok"

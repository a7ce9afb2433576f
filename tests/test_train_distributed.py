"""`torchrun --nproc-per-node 2 -m snasnet_cli train`: two CPU processes (gloo) train with DDP; rank 0 alone
writes the run directory, and the validation figures, reduced over ranks, are the whole test set's."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import pytest
import torch

from snasnet.core.runs import EventReader
from snasnet.data.datasets import get_dataset
from snasnet.train.evaluate import evaluate_checkpoint

ENV = {**os.environ, "OMP_NUM_THREADS": "1"}  # torchrun's own default for several processes


def test_two_processes_train_one_run_with_figures_reduced_over_ranks(tmp_path):
    run_dir = tmp_path / "run"
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2"]
    command += ["-m", "snasnet_cli", "train", "--dataset", "digits", "--epochs", "1", "--device", "cpu"]
    command += ["--run-dir", str(run_dir), "--quiet"]
    result = subprocess.run(command, capture_output=True, text=True, env=ENV, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]

    events = EventReader(run_dir / "events.jsonl").read_new()
    kinds = [e["event"] for e in events]
    assert kinds.count("run_started") == 1 and kinds.count("epoch_finished") == 1  # one writer: rank 0
    # last.pt is saved again once it holds best.pt's test
    assert [e["kind"] for e in events if e["event"] == "checkpoint_saved"] == ["last", "best", "last"]
    started = events[0]
    train_images = started["train_images"]  # digits' training split less the held-out validation images
    assert train_images == len(get_dataset("digits").train) - started["val_images"] and started["val_images"] > 0
    assert started["world_size"] == 2
    assert started["steps_per_epoch"] == math.ceil(math.ceil(train_images / 2) / 64)  # each rank: half the data
    assert events[-1]["status"] == "ok"

    last = torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)
    assert last["world_size"] == 2 and last["epoch"] == 1
    # the test of best.pt each rank did on its half, summed, is the whole test set's
    tested = next(e for e in events if e["event"] == "test_finished")
    alone = evaluate_checkpoint(run_dir / "checkpoints" / "best.pt", write_run=False, device="cpu")
    assert alone.images == tested["images"] == 360
    assert tested["top1"] == alone.top1 and tested["top5"] == alone.top5
    assert tested["loss"] == pytest.approx(alone.loss, rel=1e-5)
    assert tested["spikes_per_image"] == pytest.approx(alone.spikes_per_image, rel=1e-9)

"""Training with surrogate gradients, as a job: a new run (``fit``) or a stopped one continued (``resume``),
under torchrun with DDP, writing the events every front end reads (docs/events.md).

    config = train_config("digits")                      # the dataset's defaults, then any overrides
    result = fit(config, run_dir="runs/digits")          # TrainResult: best_acc, test, history, model ...
    result = resume("runs/digits")                       # after Ctrl-C / SIGTERM: continues where it stopped

The recipe and its defaults are in ``snasnet.train.recipe``, the loop and its checkpoints in ``snasnet.train.trainer``.
best.pt is chosen on a validation split (the dataset's own, or 10% of the training images held out) and evaluated
once on the test split at the end (``result.test``); ``select_on="test"`` chooses it on the test split, as the
original code does.
CUDA: bf16 autocast for training's forward passes and channels-last; validation in fp32 unless asked; CPU: fp32.

The first SIGINT/SIGTERM finishes the current step, writes ``checkpoints/last.pt`` with the position
(epoch, step) and ends the run as cancelled; ``resume`` skips the batches already done, so on a CPU an
interrupted and resumed run ends with the same weights, bit for bit, as one that was not interrupted (tested).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch.distributed as dist

from snasnet.core.atomic import atomic_path
from snasnet.core.distributed import init_distributed, shared_run_dir, shutdown
from snasnet.core.errors import CheckpointError, ConfigError
from snasnet.core.interrupts import GracefulStop
from snasnet.core.run_lock import LOCK, RunLock
from snasnet.core.runs import RunDir
from snasnet.network.checkpoint import FORMAT, read_checkpoint
from snasnet.network.model import SNASNet
from snasnet.train.evaluate import Stopped
from snasnet.train.precision import REPORTED
from snasnet.train.recipe import DATASET_DEFAULTS, DEFAULT_ARCH, TrainConfig, train_config
from snasnet.train.trainer import CHECKPOINTS, Interrupted, Trainer

# the public API of training, as README's example imports it
__all__ = ["DATASET_DEFAULTS", "DEFAULT_ARCH", "TrainConfig", "TrainResult", "fit", "resume", "train_config"]


@dataclass
class TrainResult:
    run_dir: Path
    model: SNASNet
    epochs: int  # epochs completed
    best_acc: float | None
    best_epoch: int | None
    history: list[dict]  # the epoch_finished events
    precision: str = REPORTED  # what the validation accuracies (best_acc) were computed in
    #: best.pt on the test split (the test_finished event's fields: top1, top5, loss, images, epoch, selected_on ...)
    test: dict | None = None
    config: TrainConfig | None = None  # the configuration run, with the validation split it used

    @property
    def last_checkpoint(self) -> Path:
        return self.run_dir / CHECKPOINTS / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.run_dir / CHECKPOINTS / "best.pt"


def fit(
    config: TrainConfig,
    run_dir: str | os.PathLike | None = None,
    *,
    listeners: tuple[Callable[[dict], None], ...] = (),
    stop: GracefulStop | None = None,
) -> TrainResult:
    """Train a new run (``run_dir`` must be new or empty; default ``runs/train-<time>``). Ctrl-C or SIGTERM
    (or ``stop.request()`` from another thread) checkpoints and raises KeyboardInterrupt after the current
    step; the run is then ``cancelled`` and ``resume(run_dir)`` continues it."""
    return _execute(config, run_dir, None, listeners, stop)


def resume(
    run_dir: str | os.PathLike,
    *,
    device: str | None = None,
    workers: int | None = None,
    listeners: tuple[Callable[[dict], None], ...] = (),
    stop: GracefulStop | None = None,
) -> TrainResult:
    """Continue the run in ``run_dir`` from ``checkpoints/last.pt`` with its own configuration (only the
    device and the number of DataLoader workers may change).

    The run's lock is taken before anything is read, so a second resume never acts on what a live process is
    still writing. What ``last.pt`` says should exist is repaired: a ``best.pt`` that a kill or a full disk kept
    from being written is written from ``last.pt`` when that is the best epoch, and a run that trained its last
    epoch but never recorded its end is closed (``ok``). A run stopped before its first checkpoint starts over
    with the configuration its ``run.json`` recorded."""
    lock = RunLock(run_dir) if os.environ.get("RANK", "0") == "0" else None  # under torchrun, rank 0 writes
    try:
        if lock is not None and Path(run_dir).is_dir():
            lock.acquire()
        state, config = _resume_point(Path(run_dir))
        if device is not None:
            config.device = device
        if workers is not None:
            config.workers = workers
        return _execute(config, run_dir, state, listeners, stop, resuming=True, lock=lock)
    finally:
        if lock is not None:
            lock.release()  # (the run's own end gave it back already, unless it never began)


def _resume_point(run_dir: Path) -> tuple[dict | None, TrainConfig]:
    """``last.pt``'s contents and configuration; ``(None, run.json's configuration)`` for a run that never saved a
    checkpoint. Read under the run's lock."""
    path = run_dir / CHECKPOINTS / "last.pt"
    if not path.is_file():
        info = RunDir(run_dir).read_info()
        if info.get("job") != "train" or not isinstance(info.get("config"), dict):
            raise CheckpointError(f"nothing to resume in {run_dir}: {path} does not exist")
        return None, TrainConfig.stored(info["config"])
    state = read_checkpoint(path)
    if state.get("format") != FORMAT or not isinstance(state.get("train_config"), dict):
        raise CheckpointError(f"{path} is not a checkpoint written by snasnet train")
    config = TrainConfig.stored(state["train_config"])
    finished = int(state.get("epoch", 0)) >= config.epochs
    # a run whose last.pt records no test of best.pt yet ("test": None) resumes to test it; runs written before that
    # test existed (no "test" key) are finished with their epochs
    tested = state.get("test", True) is not None
    closed = RunDir(run_dir).read_info().get("status") == "ok"
    if finished and tested and closed and not _best_to_repair(run_dir, state):
        raise ConfigError(f"{run_dir} has finished all {config.epochs} epochs: there is nothing to resume")
    state["_source"] = str(path)
    return state, config


def _best_to_repair(run_dir: Path, state: dict) -> bool:
    """Whether ``best.pt`` should be ``last.pt`` and is not: the best epoch is the one ``last.pt`` ends, and
    ``best.pt`` is missing or older (a kill, or a full disk, between the two saves)."""
    best = state.get("best_epoch")
    if best is None or best != state.get("epoch") or int(state.get("step", 0)):
        return False
    path = run_dir / CHECKPOINTS / "best.pt"
    try:
        return read_checkpoint(path).get("epoch") != best
    except CheckpointError:  # missing, or not whole
        return True


def _repair_best(run: RunDir, state: dict) -> None:
    """Write ``best.pt`` from ``last.pt`` (the same contents: both hold ``Trainer.state()`` at the epoch's end)."""
    source = Path(state["_source"])
    target = run.path / CHECKPOINTS / "best.pt"
    with atomic_path(target) as tmp:
        shutil.copyfile(source, tmp)
    run.emit("checkpoint_saved", path=str(target), kind="best", epoch=state["epoch"], step=0, repaired=True)


def _execute(
    config: TrainConfig,
    run_dir: str | os.PathLike | None,
    state: dict | None,
    listeners: tuple[Callable[[dict], None], ...],
    stop: GracefulStop | None,
    *,
    resuming: bool = False,
    lock: RunLock | None = None,
) -> TrainResult:
    new_run = not resuming and run_dir is not None and Path(run_dir).is_dir()
    if new_run and any(p.name != LOCK for p in Path(run_dir).iterdir()):
        raise ConfigError(f"run directory {run_dir} already holds a run: choose another --run-dir, or --resume it")
    joined = dist.is_available() and dist.is_initialized()
    env, device = init_distributed(config.device)
    try:
        trainer = Trainer(config, env, device)
        config = trainer.config  # with the validation split it uses
        if state is not None:
            trainer.load_state(state, state["_source"])
        path = shared_run_dir(run_dir, "train", env)
        run = RunDir.create(
            "train",
            asdict(config),
            path,
            arch=config.arch,
            celltype=config.celltype,
            seed=config.seed,
            enabled=env.is_main,
            resume=resuming,
            lock=lock,
        )
        for listener in listeners:
            run.subscribe(listener)
        started = {
            "job": "train",
            "epochs": config.epochs,
            "steps_per_epoch": trainer.steps_per_epoch,
            "dataset": config.dataset,
            "arch": config.arch,
            "celltype": config.celltype,
            "start_epoch": trainer.epoch,
            "start_step": trainer.step,
            "world_size": env.world_size,
            "device": str(device),
            "train_precision": trainer.precision,
            "val_precision": trainer.val_precision,
            "select_on": config.select_on,
            "val_split": config.val_split,
            "val_images": len(trainer.val_set),
            "train_images": len(trainer.bundle.train),
            "test_images": len(trainer.bundle.test),
        }
        guard = GracefulStop() if stop is None else contextlib.nullcontext(stop)
        with run.job(**started), guard as active:
            if state is not None and env.is_main and _best_to_repair(run.path, state):
                _repair_best(run, state)
            try:
                trainer.run(run, active)
            except (Interrupted, Stopped):
                trainer.interrupted(run)
                raise KeyboardInterrupt from None
        return TrainResult(
            Path(path),
            trainer.model,
            trainer.epoch,
            trainer.best_acc,
            trainer.best_epoch,
            trainer.history,
            trainer.val_precision,
            trainer.test,
            config,
        )
    finally:
        if env.enabled and not joined:
            shutdown()

"""Training with surrogate gradients: the original's recipe, checkpoints that resume exactly, torchrun DDP,
and the events every front end reads (docs/events.md).

    config = train_config("digits")                      # the dataset's defaults, then any overrides
    result = fit(config, run_dir="runs/digits")          # TrainResult: best_acc, history, model ...
    result = resume("runs/digits")                       # after Ctrl-C / SIGTERM: continues where it stopped

Defaults are the original's (SGD lr 0.1, momentum 0.9, weight decay 5e-4, cosine to 0.01 x lr stepped per
epoch, 300 epochs, batch 64, T = 5, cross-entropy on the class scores averaged over T), except where
``DATASET_DEFAULTS`` says otherwise for a dataset. CUDA: bf16 autocast and channels-last; CPU: fp32.

Exact resume: the data order of an epoch, the augmentation of each image and the dropout masks of each step
are drawn from seeds derived from (seed, epoch, index / step, rank). The first SIGINT/SIGTERM finishes the
current step, writes ``checkpoints/last.pt`` with the position (epoch, step) and ends the run as cancelled;
``resume`` skips the batches already done, so on a CPU an interrupted and resumed run ends with the same
weights, bit for bit, as one that was not interrupted (tested).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, TensorDataset

from snasnet.arch import Architecture
from snasnet.checkpoint import FORMAT, load_weights, read_checkpoint, save_checkpoint
from snasnet.data import DataBundle, get_dataset
from snasnet.distributed import DistEnv, all_reduce_sum, barrier, broadcast_object, init_distributed, shutdown
from snasnet.errors import CheckpointError, ConfigError
from snasnet.evaluate import EvalResult, Stopped, autocast, evaluate, resolve_precision, to_device
from snasnet.interrupts import GracefulStop
from snasnet.model import SNASNet, build_model
from snasnet.runs import RunDir, default_run_dir
from snasnet.seeding import derive_seed, rng_state, set_rng_state

DEFAULT_ARCH = "0302 0030 3003 0000"  # the paper's CIFAR-100 cell
CHECKPOINTS = "checkpoints"
STEP_EVENT_INTERVAL = 0.5  # seconds between train_step events (a few per second at most)


@dataclass
class TrainConfig:
    """Everything a training run depends on (stored in run.json and in every checkpoint)."""

    dataset: str = "cifar10"
    data_dir: str | None = None
    download: bool = False
    dataset_options: dict = field(default_factory=dict)
    arch: str = DEFAULT_ARCH
    celltype: str = "backward"
    timesteps: int = 5
    second_avgpooling: int = 2
    epochs: int = 300
    batch_size: int = 64
    optimizer: str = "sgd"
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    scheduler: str = "cosine"
    val_interval: int = 20
    eval_batch_size: int = 256
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"  # auto: bf16 autocast on CUDA, fp32 on the CPU
    channels_last: bool | None = None  # None: on CUDA
    compile: bool = False
    workers: int | None = None  # DataLoader workers; None: 0 for in-memory data, else up to 4

    def __post_init__(self) -> None:
        Architecture.parse(self.arch, self.celltype)  # a clear ArchitectureError for a bad cell
        for name in ("timesteps", "second_avgpooling", "epochs", "val_interval", "eval_batch_size"):
            if int(getattr(self, name)) < 1:
                raise ConfigError(f"{name} must be at least 1 (got {getattr(self, name)})")
        if self.batch_size < 2:
            raise ConfigError(f"batch_size must be at least 2: batch norm needs two images (got {self.batch_size})")
        if not self.lr > 0:
            raise ConfigError(f"lr must be positive (got {self.lr})")
        if self.weight_decay < 0 or not 0 <= self.momentum < 1:
            raise ConfigError("weight_decay must be >= 0 and momentum in [0, 1)")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"unknown optimizer {self.optimizer!r}: choose one of {', '.join(OPTIMIZERS)}")
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"unknown scheduler {self.scheduler!r}: choose one of {', '.join(SCHEDULERS)}")
        if self.workers is not None and self.workers < 0:
            raise ConfigError(f"workers must be >= 0 (got {self.workers})")

    @property
    def architecture(self) -> Architecture:
        return Architecture.parse(self.arch, self.celltype)


#: where a dataset's defaults differ from the original's recipe. digits: 1437 small images, on which SGD at
#: the CIFAR settings stalls for many epochs and Adam without augmentation overfits (93-97% test accuracy,
#: varying with the seed); with 1-pixel shifts, Adam 1e-2 for 25 epochs ended at 97.5-98.3% for seeds 0-2.
DATASET_DEFAULTS: dict[str, dict] = {
    "digits": {
        "optimizer": "adam",
        "lr": 1e-2,
        "weight_decay": 0.0,
        "epochs": 25,
        "val_interval": 1,
        "dataset_options": {"shift": 1},
    },
    "synthetic": {"val_interval": 1},
}

OPTIMIZERS: dict[str, Callable[[Iterator[nn.Parameter], TrainConfig], torch.optim.Optimizer]] = {
    "sgd": lambda params, c: torch.optim.SGD(params, lr=c.lr, momentum=c.momentum, weight_decay=c.weight_decay),
    "adam": lambda params, c: torch.optim.Adam(params, lr=c.lr, weight_decay=c.weight_decay),
}
#: the learning rate an optimizer gets when it is chosen without one
OPTIMIZER_LR = {"sgd": 0.1, "adam": 1e-3}

# Both as the original: stepped once per epoch.
SCHEDULERS: dict[str, Callable[[torch.optim.Optimizer, TrainConfig], torch.optim.lr_scheduler.LRScheduler]] = {
    "cosine": lambda opt, c: torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=c.epochs, eta_min=c.lr * 0.01),
    "step": lambda opt, c: torch.optim.lr_scheduler.MultiStepLR(
        opt, milestones=[int(0.5 * c.epochs), int(0.75 * c.epochs)], gamma=0.1
    ),
}


def train_config(dataset: str = "cifar10", **options: object) -> TrainConfig:
    """A TrainConfig for ``dataset``: the original's recipe, the dataset's ``DATASET_DEFAULTS``, then
    ``options`` (None means "the default"). Choosing an optimizer without a learning rate gives it its own
    (``OPTIMIZER_LR``)."""
    known = {f.name for f in fields(TrainConfig)}
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ConfigError(f"unknown training option(s): {', '.join(unknown)}")
    values: dict = {"dataset": dataset, **DATASET_DEFAULTS.get(dataset, {})}
    chosen = given.get("optimizer")
    if chosen is not None and "lr" not in given and chosen != values.get("optimizer", "sgd"):
        values["lr"] = OPTIMIZER_LR.get(str(chosen), TrainConfig.lr)
    values.update(given)
    return TrainConfig(**values)


BEST_ARCH = "best_arch.json"  # what a search writes in its run directory


def read_arch_file(path: str | os.PathLike) -> tuple[Architecture, dict]:
    """The cell in a JSON file ``{"arch": "0302 0030 3003 0000", "celltype": ...}`` (a search's
    ``best_arch.json``; a search run directory means the one in it), and everything else the file says."""
    path = Path(path)
    if path.is_dir():
        path = path / BEST_ARCH
        if not path.is_file():
            raise ConfigError(f"no {BEST_ARCH} in {path.parent}: has its search finished?")
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"architecture file not found: {path}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a JSON architecture file ({exc})") from None
    if not isinstance(data, dict):
        raise ConfigError(f'{path}: expected {{"arch": "0302 0030 3003 0000", "celltype": ...}}')
    return Architecture.from_dict(data), data


@dataclass
class TrainResult:
    run_dir: Path
    model: SNASNet
    epochs: int  # epochs completed
    best_acc: float | None
    best_epoch: int | None
    history: list[dict]  # the epoch_finished events

    @property
    def last_checkpoint(self) -> Path:
        return self.run_dir / CHECKPOINTS / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.run_dir / CHECKPOINTS / "best.pt"


class _Interrupted(Exception):
    """A stop was asked for; the state is whole at the current position."""


class EpochSampler(DistributedSampler):
    """DistributedSampler (an epoch's permutation seeded by seed + epoch; this rank's share) that can begin
    part-way through the epoch, at ``start`` samples, for a resumed run."""

    def __init__(self, dataset: Dataset, env: DistEnv, seed: int) -> None:
        super().__init__(dataset, num_replicas=env.world_size, rank=env.rank, shuffle=True, seed=seed)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start :])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)


class Trainer:
    """One training run: data, model, optimizer, scheduler, and where it stands (``epoch`` epochs done,
    ``step`` steps of the next one done). ``state()`` / ``load_state()`` are what a checkpoint holds."""

    def __init__(self, config: TrainConfig, env: DistEnv, device: torch.device) -> None:
        self.config, self.env, self.device = config, env, device
        self.precision = resolve_precision(config.precision, device)
        self.channels_last = device.type == "cuda" if config.channels_last is None else config.channels_last
        self.arch = config.architecture
        self.bundle = _load_data(config, env)
        train_set = self.bundle.train
        self.workers = config.workers if config.workers is not None else _default_workers(train_set)

        torch.manual_seed(config.seed)  # the initial weights
        self.model = build_model(
            self.bundle.preset,
            self.arch,
            timesteps=config.timesteps,
            second_avgpooling=config.second_avgpooling,
            **self.bundle.model_overrides(),
        ).to(device)
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = OPTIMIZERS[config.optimizer](self.model.parameters(), config)
        self.scheduler = SCHEDULERS[config.scheduler](self.optimizer, config)
        self.net: nn.Module = self.model
        if env.enabled:
            # pruned nodes keep their modules (the original's layout) but get no gradient; nor does feedback
            # when there is no next step to feed (T = 1)
            unused = bool(self.arch.removed_nodes()) or (self.arch.celltype == "backward" and config.timesteps == 1)
            self.net = nn.parallel.DistributedDataParallel(
                self.model, device_ids=[device.index] if device.type == "cuda" else None, find_unused_parameters=unused
            )
        if config.compile:
            self.net = torch.compile(self.net)
        if device.type == "cuda":
            torch.backends.cudnn.benchmark = True

        self.sampler = EpochSampler(train_set, env, seed=derive_seed(config.seed, "order"))
        self.loader = DataLoader(
            train_set,
            batch_size=config.batch_size,
            sampler=self.sampler,
            num_workers=self.workers,
            pin_memory=device.type == "cuda",
            generator=torch.Generator().manual_seed(config.seed),  # not the global one: dropout's
        )
        self.steps_per_epoch = math.ceil(self.sampler.num_samples / config.batch_size)
        self.epoch, self.step = 0, 0
        self.sums = torch.zeros(3, dtype=torch.float64, device=device)  # this epoch: loss, hits, images
        self.train_seconds = 0.0  # this epoch, so far
        self.best_acc: float | None = None
        self.best_epoch: int | None = None
        self.history: list[dict] = []

    # --- checkpoint contents ------------------------------------------------------------------------
    def state(self) -> dict:
        return {
            "train_config": asdict(self.config),
            "arch": self.arch.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "epoch": self.epoch,
            "step": self.step,
            "steps_per_epoch": self.steps_per_epoch,
            "world_size": self.env.world_size,
            "train_sums": self.sums.tolist(),
            "train_seconds": self.train_seconds,
            "best_acc": self.best_acc,
            "best_epoch": self.best_epoch,
            "history": self.history,
            "rng": rng_state(),
        }

    def load_state(self, state: dict, source: str) -> None:
        step, world = int(state.get("step", 0)), int(state.get("world_size", 1))
        if step and world != self.env.world_size:
            raise ConfigError(
                f"{source} was written part-way through an epoch by {world} process(es): resume it with {world}"
            )
        load_weights(self.model, state["state_dict"], source)
        try:
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
        except (KeyError, ValueError) as exc:
            raise CheckpointError(f"{source}: optimizer or scheduler state does not fit ({exc})") from None
        self.epoch, self.step = int(state["epoch"]), step
        if self.env.is_main:  # the partial epoch's sums were reduced over ranks before saving
            self.sums = torch.tensor(state.get("train_sums", [0, 0, 0]), dtype=torch.float64, device=self.device)
        self.train_seconds = float(state.get("train_seconds", 0.0))
        self.best_acc, self.best_epoch = state.get("best_acc"), state.get("best_epoch")
        self.history = list(state.get("history", []))
        if "rng" in state:
            set_rng_state(state["rng"])

    # --- the loop -------------------------------------------------------------------------------------
    def run(self, run: RunDir, stop: GracefulStop) -> None:
        for epoch in range(self.epoch + 1, self.config.epochs + 1):
            started = time.perf_counter() - self.train_seconds
            self._train_epoch(epoch, run, stop)
            val = self._validate(epoch, stop)
            lr = self.optimizer.param_groups[0]["lr"]  # the rate this epoch trained with
            with warnings.catch_warnings():
                # a run resumed after its last step of an epoch steps the scheduler before any optimizer step
                warnings.filterwarnings("ignore", "Detected call of `lr_scheduler", UserWarning)
                self.scheduler.step()
            record = self._epoch_record(epoch, val, lr, time.perf_counter() - started)
            self.epoch, self.step, self.train_seconds = epoch, 0, 0.0
            self.sums.zero_()
            self.history.append(record)
            run.emit("epoch_finished", **record)
            improved = val is not None and (self.best_acc is None or val.top1 > self.best_acc)
            if improved:
                self.best_acc, self.best_epoch = val.top1, epoch
            self.save(run, "last")
            if improved:
                self.save(run, "best")

    def _train_epoch(self, epoch: int, run: RunDir, stop: GracefulStop) -> None:
        c = self.config
        if self.step >= self.steps_per_epoch:
            return  # stopped during this epoch's validation: only that is left
        self.sampler.set_epoch(epoch)
        self.sampler.start = self.step * c.batch_size
        if hasattr(self.bundle.train, "set_epoch"):
            self.bundle.train.set_epoch(epoch, seed=c.seed)
        self.model.train()
        batches = iter(self.loader)
        first, last_event = self.step, 0.0
        session = time.perf_counter()
        started = session - self.train_seconds
        for step in range(self.step + 1, self.steps_per_epoch + 1):
            try:
                images, labels = next(batches)
            except RuntimeError:
                if stop.requested:  # Ctrl-C in a terminal also ends the DataLoader's workers
                    raise _Interrupted from None
                raise
            torch.manual_seed(derive_seed(c.seed, "step", self.env.rank, epoch, step))  # dropout masks
            images = to_device(images, self.device, self.channels_last)
            labels = labels.to(self.device, non_blocking=True)
            with autocast(self.device, self.precision):
                scores = self.net(images)
            loss = F.cross_entropy(scores.float(), labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            with torch.no_grad():
                hits = (scores.argmax(1) == labels).sum()
                self.sums += torch.stack(
                    [loss.detach() * len(labels), hits, torch.tensor(len(labels), device=labels.device)]
                ).double()
            self.step = step
            self.train_seconds = time.perf_counter() - started
            now = time.monotonic()
            if now - last_event >= STEP_EVENT_INTERVAL or step == self.steps_per_epoch:
                last_event = now
                loss_sum, hit_sum, seen = self.sums.tolist()  # this rank's share, to spare a collective
                done = (step - first) * c.batch_size * self.env.world_size
                run.emit(
                    "train_step",
                    epoch=epoch,
                    step=step,
                    steps=self.steps_per_epoch,
                    loss=loss_sum / seen,
                    acc=hit_sum / seen,
                    lr=self.optimizer.param_groups[0]["lr"],
                    images_per_s=done / max(time.perf_counter() - session, 1e-9),
                )
            if self._stop_requested(stop):
                raise _Interrupted

    def _validate(self, epoch: int, stop: GracefulStop) -> EvalResult | None:
        c = self.config
        if epoch % c.val_interval and epoch != c.epochs:
            return None
        if self.env.enabled:
            # each rank's last step updated its own BatchNorm running statistics (DDP broadcasts rank 0's at the
            # start of a forward pass only): validate every share with rank 0's, the ones its checkpoint holds
            for buffer in self.model.buffers():
                dist.broadcast(buffer, src=0)
        return evaluate(
            self.model,
            self.bundle.test,
            batch_size=c.eval_batch_size,
            device=self.device,
            precision=self.precision,
            channels_last=self.channels_last,
            workers=self.workers,
            env=self.env,
            # under torchrun a stop is agreed on at training steps only (no collectives in here)
            should_stop=None if self.env.enabled else (lambda: stop.requested),
        )

    def _stop_requested(self, stop: GracefulStop) -> bool:
        if not self.env.enabled:
            return stop.requested
        flag = torch.tensor([float(stop.requested)], device=self.device)
        return bool(all_reduce_sum(flag, self.env).item())

    def _epoch_record(self, epoch: int, val: EvalResult | None, lr: float, seconds: float) -> dict:
        loss_sum, hit_sum, seen = all_reduce_sum(self.sums.clone(), self.env).tolist()
        return {
            "epoch": epoch,
            "epochs": self.config.epochs,
            "train_loss": loss_sum / max(seen, 1),
            "train_acc": hit_sum / max(seen, 1),
            "val_loss": val.loss if val else None,
            "val_acc": val.top1 if val else None,
            "val_top5": val.top5 if val else None,
            "lr": lr,
            "firing_rates": val.firing_rates if val else None,
            "spikes_per_image": val.spikes_per_image if val else None,
            "total_spikes_per_image": val.total_spikes_per_image if val else None,
            "images_per_s": seen / max(self.train_seconds, 1e-9),
            "seconds": seconds,
        }

    def save(self, run: RunDir, kind: str) -> None:
        """Write ``checkpoints/<kind>.pt`` (rank 0; atomic) and tell the front ends."""
        if self.env.is_main:
            path = save_checkpoint(run.path / CHECKPOINTS / f"{kind}.pt", self.model, **self.state())
            run.emit("checkpoint_saved", path=str(path), kind=kind, epoch=self.epoch, step=self.step)
        barrier(self.env)

    def interrupted(self, run: RunDir) -> None:
        """Checkpoint where the run stands after a stop, the partial epoch's sums reduced over ranks."""
        all_reduce_sum(self.sums, self.env)
        self.save(run, "last")


def _default_workers(dataset: Dataset) -> int:
    if isinstance(dataset, TensorDataset):
        return 0  # in memory: worker processes would only add start-up time
    return min(4, os.cpu_count() or 1)


def _load_data(config: TrainConfig, env: DistEnv) -> DataBundle:
    """The dataset, downloaded by rank 0 alone when asked (the others wait, then read its files)."""

    def load(download: bool) -> DataBundle:
        return get_dataset(config.dataset, data_dir=config.data_dir, download=download, **config.dataset_options)

    if not (config.download and env.enabled):
        return load(config.download)
    bundle = load(True) if env.is_main else None
    barrier(env)
    return bundle if bundle is not None else load(False)


# --- jobs -------------------------------------------------------------------------------------------
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
    device and the number of DataLoader workers may change)."""
    path = Path(run_dir) / CHECKPOINTS / "last.pt"
    if not path.is_file():
        raise CheckpointError(f"nothing to resume in {run_dir}: {path} does not exist")
    state = read_checkpoint(path)
    if state.get("format") != FORMAT or not isinstance(state.get("train_config"), dict):
        raise CheckpointError(f"{path} is not a checkpoint written by snasnet train")
    stored = state["train_config"]
    known = {f.name for f in fields(TrainConfig)}
    config = TrainConfig(**{k: v for k, v in stored.items() if k in known})
    if device is not None:
        config.device = device
    if workers is not None:
        config.workers = workers
    if int(state.get("epoch", 0)) >= config.epochs:
        raise ConfigError(f"{run_dir} has finished all {config.epochs} epochs: there is nothing to resume")
    state["_source"] = str(path)
    return _execute(config, run_dir, state, listeners, stop)


def _execute(
    config: TrainConfig,
    run_dir: str | os.PathLike | None,
    state: dict | None,
    listeners: tuple[Callable[[dict], None], ...],
    stop: GracefulStop | None,
) -> TrainResult:
    if state is None and run_dir is not None and Path(run_dir).is_dir() and any(Path(run_dir).iterdir()):
        raise ConfigError(f"run directory {run_dir} already holds a run: choose another --run-dir, or --resume it")
    joined = dist.is_available() and dist.is_initialized()
    env, device = init_distributed(config.device)
    try:
        trainer = Trainer(config, env, device)
        if state is not None:
            trainer.load_state(state, state["_source"])
        path = broadcast_object(str(run_dir or default_run_dir("train")) if env.is_main else None, env)
        run = RunDir.create(
            "train",
            asdict(config),
            path,
            arch=config.arch,
            celltype=config.celltype,
            seed=config.seed,
            enabled=env.is_main,
            resume=state is not None,
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
            "precision": trainer.precision,
        }
        guard = GracefulStop() if stop is None else contextlib.nullcontext(stop)
        with run.job(**started), guard as active:
            try:
                trainer.run(run, active)
            except (_Interrupted, Stopped):
                trainer.interrupted(run)
                raise KeyboardInterrupt from None
        return TrainResult(
            Path(path), trainer.model, trainer.epoch, trainer.best_acc, trainer.best_epoch, trainer.history
        )
    finally:
        if env.enabled and not joined:
            shutdown()

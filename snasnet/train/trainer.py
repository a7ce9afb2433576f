"""The training loop: one run's data, model, optimizer and scheduler, the epochs and steps, validation, the test
of best.pt at the end, and what a checkpoint holds to resume it exactly (``Trainer.state`` / ``load_state``;
``save`` writes it).

Validation (which picks best.pt) runs on the validation split (``validation_split``: the dataset's own, or images
held out of the training split), or on the test split with ``select_on="test"`` (the original code's protocol).
After the last epoch best.pt is evaluated once on the test split (``test_finished``).

Exact resume: the data order of an epoch, the augmentation of each image and the dropout masks of each step
are drawn from seeds derived from (seed, epoch, index / step, rank), so a run that skips the batches already
done ends, on a CPU, with the same weights bit for bit as one that was not interrupted.
"""

from __future__ import annotations

import copy
import math
import os
import time
import warnings
from dataclasses import asdict, replace

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, TensorDataset

from snasnet.core.device import to_device
from snasnet.core.distributed import DistEnv, all_reduce_sum, barrier
from snasnet.core.errors import CheckpointError, ConfigError, Diverged
from snasnet.core.interrupts import GracefulStop, ignore_stop_signals
from snasnet.core.runs import RunDir
from snasnet.core.seeding import derive_seed, rng_state, set_rng_state
from snasnet.data.datasets import DataBundle, get_dataset
from snasnet.data.validation import DEFAULT_VAL_SPLIT, hold_out
from snasnet.network.checkpoint import load_weights, read_checkpoint, save_checkpoint
from snasnet.network.model import build_model
from snasnet.train.evaluate import EvalResult, evaluate
from snasnet.train.optimizers import OPTIMIZERS
from snasnet.train.precision import autocast, check_precision, training_precision
from snasnet.train.recipe import TrainConfig
from snasnet.train.sampler import EpochSampler
from snasnet.train.schedulers import SCHEDULERS

CHECKPOINTS = "checkpoints"
STEP_EVENT_INTERVAL = 0.5  # seconds between train_step events (a few per second at most)


class Interrupted(Exception):
    """A stop was asked for; the state is whole at the current position."""


class Trainer:
    """One training run: data, model, optimizer, scheduler, and where it stands (``epoch`` epochs done,
    ``step`` steps of the next one done). ``state()`` / ``load_state()`` are what a checkpoint holds."""

    def __init__(self, config: TrainConfig, env: DistEnv, device: torch.device) -> None:
        self.env, self.device = env, device
        self.precision = training_precision(config.train_precision, device)  # training's forward passes
        self.val_precision = check_precision(config.precision)  # validation's: the accuracy reported
        self.channels_last = device.type == "cuda" if config.channels_last is None else config.channels_last
        self.arch = config.architecture
        # the configuration with the validation split it uses (recorded, so a resumed run holds out the same)
        self.config, self.bundle, self.val_set = validation_split(config, _load_data(config, env))
        train_set = self.bundle.train
        self.workers = config.workers if config.workers is not None else _default_workers(train_set)

        torch.manual_seed(config.seed)  # the initial weights
        self.model = build_model(
            self.bundle.preset,
            self.arch,
            timesteps=config.timesteps,
            second_avgpooling=config.second_avgpooling,
            norm=config.norm,
            **self.bundle.model_overrides(),
        ).to(device)
        self.bundle.check_model(self.model, "the network")
        if self.channels_last:
            self.model.to(memory_format=torch.channels_last)
        self.optimizer = OPTIMIZERS.get(config.optimizer)(self.model.parameters(), config)
        self.scheduler = SCHEDULERS.get(config.scheduler)(self.optimizer, config)
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
            worker_init_fn=ignore_stop_signals,  # a signal to the process group is the main process's to handle
            pin_memory=device.type == "cuda",
            generator=torch.Generator().manual_seed(config.seed),  # not the global one: dropout's
        )
        self.steps_per_epoch = math.ceil(self.sampler.num_samples / config.batch_size)
        self.epoch, self.step = 0, 0
        self.sums = torch.zeros(3, dtype=torch.float64, device=device)  # this epoch: loss, hits, images
        self.train_seconds = 0.0  # this epoch, so far
        self.best_acc: float | None = None
        self.best_epoch: int | None = None
        self.test: dict | None = None  # best.pt on the test split, once the last epoch is done (test_finished)
        self.history: list[dict] = []
        self.last_good: str | None = None  # the newest checkpoint of this run, all finite (for a Diverged message)
        # the first step of this epoch whose loss was not finite (0: none) and that loss: kept on the device and
        # looked at where the loop syncs anyway, so that watching costs no transfer per step
        self.bad_step = torch.zeros((), dtype=torch.long, device=device)
        self.bad_loss = torch.zeros((), dtype=torch.float32, device=device)

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
            "test": self.test,
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
        self.test = state.get("test")
        self.history = list(state.get("history", []))
        self.last_good = source
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
        if self.test is None:
            self._test(run, stop)

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
                    raise Interrupted from None
                raise
            torch.manual_seed(derive_seed(c.seed, "step", self.env.rank, epoch, step))  # dropout masks
            images = to_device(images, self.device, self.channels_last and images.dim() == 4)  # frames: 5-D
            labels = labels.to(self.device, non_blocking=True)
            with autocast(self.device, self.precision):
                scores = self.net(images)
            loss = F.cross_entropy(scores.float(), labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            with torch.no_grad():
                new_bad = (self.bad_step == 0) & ~torch.isfinite(loss)
                self.bad_loss = torch.where(new_bad, loss.detach(), self.bad_loss)
                self.bad_step = torch.where(new_bad, step, self.bad_step)
                hits = (scores.argmax(1) == labels).sum()
                self.sums += torch.stack(
                    [loss.detach() * len(labels), hits, torch.tensor(len(labels), device=labels.device)]
                ).double()
            self.step = step
            self.train_seconds = time.perf_counter() - started
            now = time.monotonic()
            if now - last_event >= STEP_EVENT_INTERVAL or step == self.steps_per_epoch:
                last_event = now
                self._check_finite(epoch)
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
            if self._stop_requested(stop, epoch):
                raise Interrupted
        self._check_finite(epoch, weights=True)  # before the epoch is validated and saved

    def _validate(self, epoch: int, stop: GracefulStop) -> EvalResult | None:
        c = self.config
        if epoch % c.val_interval and epoch != c.epochs:
            return None
        if self.env.enabled:
            # each rank's last step updated its own BatchNorm running statistics (DDP broadcasts rank 0's at the
            # start of a forward pass only): validate every share with rank 0's, the ones its checkpoint holds
            for buffer in self.model.buffers():
                dist.broadcast(buffer, src=0)
        return self._evaluate(self.model, self.val_set, stop)

    def _test(self, run: RunDir, stop: GracefulStop) -> None:
        """Evaluate best.pt on the test split, once: the run's test accuracy. Kept in last.pt, so that a run
        stopped during it does only this when resumed, and in run.json."""
        path = run.path / CHECKPOINTS / "best.pt"
        model = copy.deepcopy(self.model)  # the last epoch's weights stay the run's model
        load_weights(model, read_checkpoint(path)["state_dict"], str(path))
        result = self._evaluate(model, self.bundle.test, stop)
        self.test = {"checkpoint": str(path), "epoch": self.best_epoch, "selected_on": self.config.select_on}
        self.test.update(result.to_dict())
        run.emit("test_finished", **self.test)
        run.record(test=self.test)
        self.save(run, "last")

    def _evaluate(self, model: nn.Module, data: Dataset, stop: GracefulStop) -> EvalResult:
        c = self.config
        return evaluate(
            model,
            data,
            batch_size=c.eval_batch_size,
            device=self.device,
            precision=self.val_precision,
            channels_last=self.channels_last,
            workers=self.workers,
            env=self.env,
            # under torchrun a stop is agreed on at training steps only (no collectives in here)
            should_stop=None if self.env.enabled else (lambda: stop.requested),
        )

    def _stop_requested(self, stop: GracefulStop, epoch: int) -> bool:
        if not self.env.enabled:
            return stop.requested
        # under torchrun the ranks agree on both questions at every step, so that they all raise together
        flags = torch.stack([torch.tensor(float(stop.requested), device=self.device), (self.bad_step > 0).float()])
        stopping, diverged = all_reduce_sum(flags, self.env).tolist()
        if diverged:
            self._diverged(epoch, "loss")
        return bool(stopping)

    def _check_finite(self, epoch: int, weights: bool = False) -> None:
        """Raise Diverged when a loss of this epoch was NaN or infinite (or, with ``weights``, a weight is)."""
        if int(self.bad_step):
            self._diverged(epoch, "loss")
        if weights and not all(bool(torch.isfinite(t).all()) for t in self.model.state_dict().values()):
            self._diverged(epoch, "weights")

    def _diverged(self, epoch: int, what: str) -> None:
        step = int(self.bad_step) or self.step
        value = f"{float(self.bad_loss):g}" if int(self.bad_step) else "non-finite"
        where = f"at epoch {epoch} step {step}" if what == "loss" else f"in epoch {epoch}"
        kept = f"last good checkpoint: {self.last_good}" if self.last_good else "no checkpoint was written before it"
        became = f"loss became {value}" if what == "loss" else "weights became non-finite"
        raise Diverged(f"{became} {where}; {kept} (a lower learning rate may help)")

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
            "val_precision": val.precision if val else None,
            "mean_firing_rate": val.mean_firing_rate if val else None,
            "train_precision": self.precision,
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
            if kind == "last":
                self.last_good = str(path)
            run.emit("checkpoint_saved", path=str(path), kind=kind, epoch=self.epoch, step=self.step)
        barrier(self.env)

    def interrupted(self, run: RunDir) -> None:
        """Checkpoint where the run stands after a stop, the partial epoch's sums reduced over ranks."""
        all_reduce_sum(self.sums, self.env)
        self._check_finite(self.epoch + 1, weights=True)  # a stop after a NaN step keeps the last good one
        self.save(run, "last")


def validation_split(config: TrainConfig, bundle: DataBundle) -> tuple[TrainConfig, DataBundle, Dataset]:
    """What ``config`` validates on: ``(config with the val_split used, the bundle, the validation set)``. The
    test split with ``select_on="test"``; else the images ``val_split`` holds out of the training split, or the
    dataset's own validation split when ``val_split`` is None (``DEFAULT_VAL_SPLIT`` held out when it has none)."""
    if config.select_on == "test":
        return replace(config, val_split=0.0), bundle, bundle.test
    fraction = config.val_split
    if fraction is None:
        fraction = 0.0 if bundle.val is not None else DEFAULT_VAL_SPLIT
    if fraction:
        bundle = hold_out(bundle, fraction, config.val_seed)
    elif bundle.val is None:
        raise ConfigError(
            f"dataset {bundle.name} has no validation split of its own, and --val-split 0 holds out no training "
            f"images to choose best.pt on: give a fraction (default {DEFAULT_VAL_SPLIT:g}), or --select-on test "
            "(the original code's protocol: chosen on the test split)"
        )
    return replace(config, val_split=fraction), bundle, bundle.val


def _default_workers(dataset: Dataset) -> int:
    while isinstance(dataset, Subset):  # a part of a split: as the split
        dataset = dataset.dataset
    if isinstance(dataset, TensorDataset):
        return 0  # in memory: worker processes would only add start-up time
    return min(4, os.cpu_count() or 1)


def _load_data(config: TrainConfig, env: DistEnv) -> DataBundle:
    """The dataset, downloaded by rank 0 alone when asked (the others wait, then read its files)."""

    def load(download: bool) -> DataBundle:
        return get_dataset(
            config.dataset,
            data_dir=config.data_dir,
            download=download,
            model_timesteps=config.timesteps,
            **config.dataset_options,
        )

    if not (config.download and env.enabled):
        return load(config.download)
    bundle = load(True) if env.is_main else None
    barrier(env)
    return bundle if bundle is not None else load(False)

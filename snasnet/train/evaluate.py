"""Evaluation: top-1, top-5, loss and spike statistics of a model on a dataset, and the ``eval`` job that
does it for a checkpoint (ours, or the original's given its architecture and dataset).

    result = evaluate(model, get_dataset("digits").test)
    result.top1, result.top5, result.loss, result.firing_rates, result.total_spikes_per_image

    result = evaluate_checkpoint("runs/train-.../checkpoints/best.pt")            # writes runs/eval-...
    result = evaluate_checkpoint("save_cifar100_bw.pth.tar", arch="0302 0030 3003 0000", dataset="cifar100")
    result = evaluate_checkpoint("save_cifar100_bw.pth.tar", model="snasnet-cifar100-bw")   # the same, by name
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset

from snasnet.core.device import resolve_device, to_device
from snasnet.core.distributed import DistEnv, all_reduce_sum
from snasnet.core.errors import MAX_BATCH_SIZE, MAX_TIMESTEPS, MAX_WORKERS, CheckpointError, ConfigError, check_at_most
from snasnet.core.interrupts import ignore_stop_signals
from snasnet.core.runs import RunDir
from snasnet.data.datasets import DataBundle, get_dataset
from snasnet.measure.spikes import SpikeMonitor
from snasnet.network.arch import layer_label
from snasnet.network.checkpoint import FORMAT, load_checkpoint, read_checkpoint, trained_on
from snasnet.network.model import SNASNet
from snasnet.network.zoo import get_model, named_network
from snasnet.train.precision import REPORTED, autocast, check_precision


@dataclass
class EvalResult:
    """Accuracies and the mean loss are over ``images``, computed in ``precision``; spike figures as
    ``SpikeMonitor.summary()``."""

    top1: float
    top5: float
    loss: float
    images: int
    firing_rates: dict[str, float] = field(default_factory=dict)
    spikes_per_image: dict[str, float] = field(default_factory=dict)
    total_spikes_per_image: float = 0.0
    mean_firing_rate: float = 0.0
    precision: str = REPORTED
    #: each layer's name by its cell edge (``cell1 0->1 conv3x3``, ``snasnet.network.arch.layer_label``)
    layer_labels: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def shard(dataset: Dataset, env: DistEnv) -> Dataset:
    """This rank's share of an evaluation set: every world_size-th image, none repeated (unlike
    DistributedSampler, which pads), so the reduced counts are exactly the dataset's."""
    return Subset(dataset, range(env.rank, len(dataset), env.world_size)) if env.enabled else dataset


def reduce_spikes(monitor: SpikeMonitor, env: DistEnv, device: torch.device) -> None:
    """Sum every rank's spike counts into ``monitor`` (in place), so its summary covers all ranks."""
    if not env.enabled:
        return
    names = list(monitor.stats)
    totals = torch.tensor(
        [[float(monitor.stats[n].spikes), monitor.stats[n].image_steps] for n in names] + [[monitor.images, 0]],
        dtype=torch.float64,
        device=device,
    )
    all_reduce_sum(totals, env)
    for name, (spikes, image_steps) in zip(names, totals[:-1].tolist(), strict=True):
        monitor.stats[name].spikes = spikes
        monitor.stats[name].image_steps = int(image_steps)
    monitor.images = int(totals[-1, 0])


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """``model`` in eval mode within the block, its previous mode after."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


class Stopped(Exception):
    """Raised by ``evaluate`` when its ``should_stop`` says so."""


def evaluate(
    model: SNASNet,
    data: Dataset,
    *,
    batch_size: int = 256,
    device: torch.device | str | None = None,
    precision: str = REPORTED,
    channels_last: bool = False,
    workers: int = 0,
    env: DistEnv | None = None,
    on_batch: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> EvalResult:
    """Evaluate ``model`` (eval mode, no gradients) on ``data``: mean cross-entropy, top-1, top-5 and the
    spikes of every LIF layer, in ``precision`` (fp32 unless asked: bf16 autocast). Under torchrun each rank
    takes its share and the figures are summed over ranks. ``on_batch(done, total)`` follows progress, from
    ``done=0`` before the loader starts its workers; ``should_stop()`` true raises ``Stopped``."""
    env = env or DistEnv()
    device = resolve_device(device) if device is not None else next(model.parameters()).device
    check_precision(precision)
    loader = DataLoader(
        shard(data, env), batch_size=batch_size, shuffle=False, num_workers=workers, worker_init_fn=ignore_stop_signals
    )
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # loss, top-1 hits, top-5 hits, images
    if on_batch is not None:
        on_batch(0, len(loader))
    with eval_mode(model), SpikeMonitor(model) as monitor, torch.no_grad(), autocast(device, precision):
        for index, (images, labels) in enumerate(loader, 1):
            if should_stop is not None and should_stop():
                raise Stopped
            labels = labels.to(device, non_blocking=True)
            scores = model(to_device(images, device, channels_last and images.dim() == 4)).float()  # frames: 5-D
            sums += _batch_sums(scores, labels)
            if on_batch is not None:
                on_batch(index, len(loader))
    all_reduce_sum(sums, env)
    reduce_spikes(monitor, env, device)
    loss, top1, top5, images = sums.tolist()
    n = max(images, 1.0)
    spikes = monitor.summary()
    return EvalResult(
        top1=top1 / n,
        top5=top5 / n,
        loss=loss / n,
        images=int(images),
        firing_rates=spikes["firing_rates"],
        spikes_per_image=spikes["spikes_per_image"],
        total_spikes_per_image=spikes["total_spikes_per_image"],
        mean_firing_rate=spikes["mean_firing_rate"],
        precision=precision,
    )


def _batch_sums(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """[summed loss, top-1 hits, top-5 hits, images] of one batch."""
    k = min(5, scores.shape[1])
    top = scores.topk(k, dim=1).indices
    hits = top == labels[:, None]
    loss = F.cross_entropy(scores, labels, reduction="sum")
    return torch.stack(
        [loss, hits[:, 0].sum(), hits.any(1).sum(), torch.tensor(len(labels), device=labels.device)]
    ).double()


# --- the eval job ----------------------------------------------------------------------------------
@dataclass
class EvalConfig:
    """What ``evaluate_checkpoint`` needs. For our checkpoints everything but ``checkpoint`` is optional
    (the dataset is the one the network was trained on); the original's need ``arch`` and ``dataset``, or
    ``model``, the named network they hold (``snasnet.network.zoo``), which gives both."""

    checkpoint: str
    dataset: str | None = None
    data_dir: str | None = None
    download: bool = False
    dataset_options: dict = field(default_factory=dict)
    arch: str | None = None
    celltype: str | None = None
    second_avgpooling: int | None = None  # None: the named model's, else 2 (the original's default)
    timesteps: int | None = None
    batch_size: int = 256
    device: str = "auto"
    precision: str = REPORTED  # what the accuracies are computed in: fp32 unless asked
    workers: int = 0
    model: str | None = None

    def __post_init__(self) -> None:
        check_at_most("--batch-size", self.batch_size, MAX_BATCH_SIZE)
        check_at_most("--workers", self.workers, MAX_WORKERS)
        check_at_most("--timesteps", self.timesteps, MAX_TIMESTEPS)


def load_for_eval(config: EvalConfig) -> tuple[SNASNet, DataBundle]:
    """The checkpoint's model and the dataset to evaluate it on, or a one-line error for a file that is not
    a checkpoint, a network the arguments do not describe, or data the network does not take."""
    raw = read_checkpoint(config.checkpoint)  # fails early, and clearly, for a bad file
    trained = trained_on(raw)
    if config.model is not None:  # the named network's cell and pooling, checked against any given
        given = {"arch": config.arch, "celltype": config.celltype, "second_avgpooling": config.second_avgpooling}
        network = named_network(config.model, given)
        config = replace(config, **network, dataset=config.dataset or get_model(config.model).dataset)
    name = config.dataset or trained.get("dataset")
    if name is None and raw.get("format") == FORMAT:  # saved by save_checkpoint outside a training run
        raise ConfigError(
            f"{config.checkpoint} records its network but not the dataset it was trained on: give it with --dataset "
            "(e.g. --dataset digits)"
        )
    if name is None:
        raise ConfigError(
            f"{config.checkpoint} is an original SNASNet checkpoint, which does not record its network: give the "
            "architecture and dataset (e.g. --arch 0302 0030 3003 0000 --dataset cifar100)"
        )
    data_dir = config.data_dir if config.data_dir is not None else trained.get("data_dir")
    options = config.dataset_options or (trained.get("dataset_options", {}) if name == trained.get("dataset") else {})
    # event frames are binned into the network's T (the checkpoint's unless --timesteps says otherwise)
    stored = raw.get("model_config") if isinstance(raw.get("model_config"), dict) else {}
    timesteps = config.timesteps or stored.get("timesteps")
    if not isinstance(timesteps, int) or not 1 <= timesteps <= MAX_TIMESTEPS:
        timesteps = None  # a damaged checkpoint: load_checkpoint below says what is wrong with it
    del raw
    bundle = get_dataset(name, data_dir=data_dir, download=config.download, model_timesteps=timesteps, **options)
    try:
        model = load_checkpoint(
            config.checkpoint,
            arch=config.arch,
            preset=bundle.preset,
            celltype=config.celltype,
            timesteps=config.timesteps,
            second_avgpooling=config.second_avgpooling or 2,
            **bundle.model_overrides(),
        )
    except CheckpointError as exc:
        if config.model is None:
            raise
        raise CheckpointError(f"{config.model}: {exc}") from None
    bundle.check_model(model, str(config.checkpoint))
    p = model.preset
    takes = (p.in_channels, p.image_size, p.num_classes)
    gives = (bundle.in_channels, bundle.image_size, bundle.num_classes)
    if takes != gives:
        raise ConfigError(
            f"{config.checkpoint} holds a network for {takes[0]}x{takes[1]}x{takes[1]} images and {takes[2]} "
            f"classes; dataset {name} has {gives[0]}x{gives[1]}x{gives[1]} images and {gives[2]} classes"
        )
    return model, bundle


def evaluate_checkpoint(
    config: EvalConfig | str | os.PathLike,
    run_dir: str | os.PathLike | None = None,
    *,
    write_run: bool = True,
    listeners: tuple[Callable[[dict], None], ...] = (),
    on_batch: Callable[[int, int], None] | None = None,
    **options: object,
) -> EvalResult:
    """The eval job: load the checkpoint and its data, evaluate, and record it in a run directory
    (``run_started``, ``eval_finished``, ``run_finished``; default ``runs/eval-<time>``) unless
    ``write_run`` is false. ``options`` are EvalConfig fields when ``config`` is a path."""
    if not isinstance(config, EvalConfig):
        config = EvalConfig(checkpoint=str(config), **options)  # type: ignore[arg-type]
    device = resolve_device(config.device)
    precision = check_precision(config.precision)
    model, bundle = load_for_eval(config)
    model.to(device)
    channels_last = device.type == "cuda"
    if channels_last:
        model.to(memory_format=torch.channels_last)
    run = RunDir.create(
        "eval",
        asdict(config),
        run_dir,
        arch=str(model.arch),
        celltype=model.arch.celltype,
        enabled=write_run,
        source_run=RunDir.source_run_of(config.checkpoint),
    )
    for listener in listeners:
        run.subscribe(listener)
    started = {"checkpoint": config.checkpoint, "dataset": bundle.name, "arch": str(model.arch), "precision": precision}
    with run.job(job="eval", **started):
        result = evaluate(
            model,
            bundle.test,
            batch_size=config.batch_size,
            device=device,
            precision=precision,
            channels_last=channels_last,
            workers=config.workers,
            on_batch=on_batch,
        )
        result = replace(result, layer_labels={name: layer_label(name, model.arch) for name in result.firing_rates})
        run.emit(
            "eval_finished",
            checkpoint=config.checkpoint,
            dataset=bundle.name,
            arch=str(model.arch),
            celltype=model.arch.celltype,
            **result.to_dict(),
        )
    return result

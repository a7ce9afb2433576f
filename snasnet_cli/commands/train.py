"""`snasnet train`: train a cell with surrogate gradients (the original's recipe), resumable, under torchrun."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from snasnet.network.norms import DEFAULT_NORMS  # torch-free, as the recipe
from snasnet.train.recipe import DATASET_DEFAULTS, TrainConfig  # torch-free: the defaults the help shows
from snasnet_cli import closed_pipe
from snasnet_cli.arch_rows import join_arch_rows
from snasnet_cli.config_option import config_extras, config_option, merged, one_source
from snasnet_cli.options import (
    DATASET_TIMESTEPS_HELP,
    DATASETS,
    MODELS,
    PRECISIONS,
    QuietOption,
    RunDirOption,
    TensorBoardOption,
    choices,
)
from snasnet_cli.train_progress import test_figures, validation_line

# Rows of `--arch 0302 0030 3003 0000` after the first arrive as extra arguments (see arch_rows).
CONTEXT = {"allow_extra_args": True}
RECIPE = "Recipe (defaults: the original's, and the datasets' own)"
MACHINE = "Machine"
VALIDATION = "Validation"


def _opt(*names: str, help: str, panel: str | None = None) -> typer.models.OptionInfo:
    return typer.Option(*names, help=help, rich_help_panel=panel)


def _default(field: str, original: object | None = None) -> str:
    """``[default: 300; digits: 25; digits-dvs: 15]``: the recipe's default for a TrainConfig field and where a
    dataset's differs (``DATASET_DEFAULTS``), as ``train_config`` takes them, so that help says what runs."""
    shown = {}
    for dataset, values in DATASET_DEFAULTS.items():
        if field in values:
            shown.setdefault(_plain(values[field]), []).append(dataset)
    original = _plain(TrainConfig.__dataclass_fields__[field].default) if original is None else original
    per_dataset = "".join(f"; {', '.join(names)}: {value}" for value, names in shown.items())
    return f"\\[default: {original}{per_dataset}]"


def _plain(value: object) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def train(
    ctx: typer.Context,
    arch: Annotated[str | None, _opt("--arch", help="The cell: --arch 0302 0030 3003 0000 (the default).")] = None,
    arch_file: Annotated[
        Path | None,
        _opt(
            "--arch-file",
            help='A JSON file {"arch": ..., "celltype": ..., "dataset": ...}, e.g. best_arch.json (and its dataset).',
        ),
    ] = None,
    from_search: Annotated[
        Path | None, _opt("--from-search", help="A search's run directory: its best_arch.json (and dataset).")
    ] = None,
    model: Annotated[
        str | None,
        _opt("--model", help=f"A named network ({MODELS}): its cell, cell type, pooling and dataset."),
    ] = None,
    celltype: Annotated[str | None, _opt("--celltype", help="forward or backward \\[default: backward].")] = None,
    dataset: Annotated[
        str | None,
        _opt("--dataset", help=f"The dataset: {DATASETS} \\[default: the arch file's or search's, else cifar10]."),
    ] = None,
    data_dir: Annotated[
        Path | None, _opt("--data-dir", help="Where the dataset lies \\[default: $SNASNET_DATA or ./data].")
    ] = None,
    download: Annotated[bool, _opt("--download", help="Download CIFAR if it is missing (needs internet).")] = False,
    image_size: Annotated[int | None, _opt("--image-size", help="imagefolder / synthetic: image side.")] = None,
    epochs: Annotated[int | None, _opt("--epochs", help=f"Epochs {_default('epochs')}.", panel=RECIPE)] = None,
    batch_size: Annotated[
        int | None, _opt("--batch-size", help=f"Batch size {_default('batch_size')}.", panel=RECIPE)
    ] = None,
    optimizer: Annotated[
        str | None,
        _opt(
            "--optimizer",
            help=f"{choices('snasnet.train.optimizers:OPTIMIZERS')} {_default('optimizer')}.",
            panel=RECIPE,
        ),
    ] = None,
    lr: Annotated[
        float | None,
        _opt(
            "--lr",
            help=f"Learning rate {_default('lr', '0.1 for sgd, 0.001 for adam')}.",
            panel=RECIPE,
        ),
    ] = None,
    momentum: Annotated[
        float | None, _opt("--momentum", help=f"SGD momentum {_default('momentum')}.", panel=RECIPE)
    ] = None,
    weight_decay: Annotated[
        float | None, _opt("--weight-decay", help=f"Weight decay {_default('weight_decay')}.", panel=RECIPE)
    ] = None,
    scheduler: Annotated[
        str | None,
        _opt(
            "--scheduler",
            help=f"Stepped per epoch: {choices('snasnet.train.schedulers:SCHEDULERS')} (cosine: to 0.01 x lr; step: "
            "x0.1 at 50% and 75%) \\[default: cosine].",
            panel=RECIPE,
        ),
    ] = None,
    val_interval: Annotated[
        int | None,
        _opt(
            "--val-interval", help=f"Validate every N epochs and at the end {_default('val_interval')}.", panel=RECIPE
        ),
    ] = None,
    val_split: Annotated[
        float | None,
        _opt(
            "--val-split",
            help="The fraction of the training images held out to validate on (which picks best.pt) \\[default: "
            "0.1; none for a dataset with a validation split of its own]. The test split is evaluated once, for "
            "best.pt, at the end.",
            panel=VALIDATION,
        ),
    ] = None,
    val_seed: Annotated[
        int | None,
        _opt("--val-seed", help="Which images are held out \\[default: 0, whatever --seed].", panel=VALIDATION),
    ] = None,
    select_on: Annotated[
        str | None,
        _opt(
            "--select-on",
            help="What picks best.pt: val, or test (the original code's protocol, to reproduce its numbers: its "
            "test accuracy is then optimistic) \\[default: val].",
            panel=VALIDATION,
        ),
    ] = None,
    timesteps: Annotated[int | None, _opt("--timesteps", help=DATASET_TIMESTEPS_HELP, panel=RECIPE)] = None,
    second_avgpooling: Annotated[
        int | None, _opt("--second-avgpooling", help="Pooling before the classifier \\[default: 2].", panel=RECIPE)
    ] = None,
    norm: Annotated[
        str | None,
        _opt(
            "--norm",
            help=f"What batch norms normalise with in training: {choices('snasnet.network.norms:NORMS')} (step: each "
            "timestep by itself, the original's; joint: all timesteps at once, tdBN; running: the running statistics, "
            f"as evaluation does). Evaluation is the same for all \\[default: {DEFAULT_NORMS['static']}; event "
            f"datasets: {DEFAULT_NORMS['frames']}].",
            panel=RECIPE,
        ),
    ] = None,
    seed: Annotated[int | None, _opt("--seed", help="Random seed \\[default: 0].", panel=RECIPE)] = None,
    device: Annotated[
        str | None, _opt("--device", help="auto (CUDA if present), cpu, cuda or cuda:N.", panel=MACHINE)
    ] = None,
    precision: Annotated[
        str | None,
        _opt(
            "--precision",
            help=f"Validation (the accuracy reported, and that picks best.pt): {PRECISIONS} \\[default: fp32].",
            panel=MACHINE,
        ),
    ] = None,
    train_precision: Annotated[
        str | None,
        _opt(
            "--train-precision",
            help=f"Training's forward passes: auto (bf16 autocast on CUDA, fp32 on CPU), {PRECISIONS} "
            "\\[default: auto].",
            panel=MACHINE,
        ),
    ] = None,
    channels_last: Annotated[
        bool | None,
        _opt("--channels-last/--no-channels-last", help="Channels-last memory \\[default: on CUDA].", panel=MACHINE),
    ] = None,
    compile_model: Annotated[bool, _opt("--compile", help="torch.compile the network.", panel=MACHINE)] = False,
    workers: Annotated[
        int | None, _opt("--workers", help="DataLoader workers \\[default: 0 in memory, else 4].", panel=MACHINE)
    ] = None,
    run_dir: RunDirOption = None,
    resume: Annotated[
        Path | None, _opt("--resume", help="Continue the interrupted run in this directory, with its settings.")
    ] = None,
    quiet: QuietOption = False,
    tensorboard: TensorBoardOption = False,
    config_file: config_option("snasnet.train.recipe:TrainConfig") = None,
) -> None:
    """Train a cell with surrogate gradients: the original's recipe (SGD 0.1, cosine, 300 epochs, batch 64, T=5).

    Writes a run directory: events.jsonl, checkpoints/last.pt (every epoch) and checkpoints/best.pt (best
    validation accuracy), which [bold]snasnet eval[/bold] and [bold]snasnet export[/bold] read alone.
    Ctrl-C or SIGTERM finishes the current step, saves last.pt and stops; [bold]--resume RUN_DIR[/bold] continues
    exactly. Under [bold]torchrun --nproc-per-node N -m snasnet_cli train ...[/bold] it trains with DDP.
    """
    from snasnet.core.errors import ConfigError
    from snasnet.train.job import fit, train_config
    from snasnet.train.job import resume as resume_run

    arch, extra = join_arch_rows(arch, ctx.args)
    if extra:
        raise ConfigError(f"unexpected argument(s): {' '.join(extra)} (the cell goes after --arch)")
    cell = one_source(ctx, {"arch": arch, "arch_file": arch_file, "from_search": from_search, "model": model,
                            "celltype": celltype, "second_avgpooling": second_avgpooling})  # fmt: skip
    arch, arch_file, from_search, model = cell["arch"], cell["arch_file"], cell["from_search"], cell["model"]
    celltype, second_avgpooling = cell["celltype"], cell["second_avgpooling"]
    recipe = {
        "epochs": epochs,
        "batch_size": batch_size,
        "optimizer": optimizer,
        "lr": lr,
        "momentum": momentum,
        "weight_decay": weight_decay,
        "scheduler": scheduler,
        "val_interval": val_interval,
        "val_split": val_split,
        "val_seed": val_seed,
        "select_on": select_on,
        "timesteps": timesteps,
        "second_avgpooling": second_avgpooling,
        "norm": norm,
        "seed": seed,
        "precision": precision,
        "train_precision": train_precision,
        "channels_last": channels_last,
        "compile": compile_model or None,
    }
    data = {
        "dataset": dataset,
        "data_dir": None if data_dir is None else str(data_dir),
        "download": download or None,
        "dataset_options": None if image_size is None else {"image_size": image_size},
    }
    main_rank = os.environ.get("RANK", "0") == "0"  # under torchrun, rank 0 reports
    console = closed_pipe.console(stderr=True, highlight=False)
    progress = None
    if not quiet and main_rank:
        from snasnet_cli.train_progress import TrainProgress

        progress = TrainProgress(console)
    listeners = () if progress is None else (progress,)

    if resume is not None:
        if config_file is not None:
            raise ConfigError("--resume continues a run with its own settings: leave out --config")
        given = [k for k, v in {**recipe, **data, "arch": arch, "arch_file": arch_file}.items() if v is not None]
        given += [k for k, v in (("from_search", from_search), ("celltype", celltype), ("model", model)) if v]
        if given or (run_dir is not None and Path(run_dir) != resume):
            options = ", ".join("--" + k.replace("_", "-") for k in given) or "--run-dir"
            raise ConfigError(f"--resume continues a run with its own settings: leave out {options}")
        if tensorboard or (resume / "tb").is_dir():  # a run logged to TensorBoard goes on doing so
            listeners = (*listeners, _tensorboard_log(resume))
        path, start = resume, lambda: resume_run(resume, device=device, workers=workers, listeners=listeners)
    else:
        cell, name = _architecture(arch, arch_file, from_search, celltype)
        given = {
            **{k: v for k, v in data.items() if k != "dataset"},
            **recipe,
            "arch": str(cell) if cell else None,
            "celltype": cell.celltype if cell else celltype,
            "model": model,
            "device": device,
            "workers": workers,
        }
        config = train_config(dataset or name, **merged(config_extras(ctx), given))
        from snasnet.core.runs import default_run_dir

        path = run_dir or default_run_dir("train")
        if progress is not None:  # once the data is loaded and the run begins

            def describe(event: dict) -> None:
                if event["event"] == "run_started":
                    progress.say(_describe(config, path, event))

            listeners = (describe, progress)
        if tensorboard:
            listeners = (*listeners, _tensorboard_log(path))
        start = lambda: fit(config, path, listeners=listeners)  # noqa: E731
    closed_pipe.on_close(closed_pipe.stop_as_after_ctrl_c)  # `| head`: checkpoint, stop, resumable
    try:
        result = start()
    except KeyboardInterrupt:
        if progress is not None:
            progress.stop()
        if main_rank and (Path(path) / "checkpoints" / "last.pt").is_file():
            console.print(
                f"training interrupted: {path}/checkpoints/last.pt holds where it stopped; continue with "
                f"[bold]snasnet train --resume {path}[/bold]",
                soft_wrap=True,
            )
        elif main_rank:
            console.print("training interrupted before its first checkpoint: nothing to resume", soft_wrap=True)
        raise typer.Exit(130) from None
    if not main_rank:
        return
    closed_pipe.console(highlight=False).print(summary(result), soft_wrap=True)


def summary(result) -> str:  # noqa: ANN001 (a TrainResult: the library is imported when the command runs)
    """The run's last line: best.pt's validation accuracy, and its test accuracy labelled as such."""
    best = "-"
    if result.best_acc is not None:
        best = f"{100 * result.best_acc:.2f}% (epoch {result.best_epoch}, {result.precision})"
    parts = [f"best validation accuracy {best}"]
    if result.config is not None and result.config.select_on == "test":
        parts = [f"best accuracy on the test split {best} (--select-on test: the original's protocol)"]
    elif result.test is not None:
        parts.append(f"test accuracy of best.pt {test_figures(result.test)}")
    parts.append(f"checkpoints in {result.run_dir / 'checkpoints'}")
    return "; ".join(parts)


def _tensorboard_log(run_dir: Path):  # noqa: ANN202 (a run listener)
    from snasnet.core.tensorboard import TensorBoardLog

    return TensorBoardLog(run_dir)


def _architecture(arch: str | None, arch_file: Path | None, from_search: Path | None, celltype: str | None):
    """(the cell, the dataset its search used or None) from whichever of the three sources was given."""
    from snasnet.core.errors import ConfigError
    from snasnet.network.arch import Architecture
    from snasnet.network.arch_file import read_arch_file

    sources = [s for s, v in (("--arch", arch), ("--arch-file", arch_file), ("--from-search", from_search)) if v]
    if len(sources) > 1:
        raise ConfigError(f"give one of --arch, --arch-file and --from-search (got {' and '.join(sources)})")
    if arch is not None:
        return Architecture.parse(arch, celltype or "backward"), None
    if arch_file is None and from_search is None:
        return None, None
    cell, info = read_arch_file(arch_file or from_search)
    if celltype is not None and celltype != cell.celltype:
        raise ConfigError(f"{arch_file or from_search} holds a {cell.celltype} cell: leave out --celltype {celltype}")
    dataset = info.get("dataset")  # the search's, which --dataset overrides
    return cell, dataset if isinstance(dataset, str) else None


def _describe(config, path, started: dict) -> str:
    lr = f"lr {config.lr:g}" + (f", momentum {config.momentum:g}" if config.optimizer == "sgd" else "")
    epochs = f"{config.epochs} epoch{'s' if config.epochs != 1 else ''}"
    named = f"{config.model}: " if config.model else ""
    return (
        f"training {named}{config.arch} ({config.celltype}) on {config.dataset}: {config.optimizer} {lr}, weight decay "
        f"{config.weight_decay:g}, {config.scheduler} schedule, {epochs}, batch {config.batch_size}, "
        f"T={config.timesteps}, batch norm {config.norm}, on {started['device']}: training "
        f"{started['train_precision']}, validation {started['val_precision']}; {validation_line(started)}; "
        f"run directory {path}"
    )

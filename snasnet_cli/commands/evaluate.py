"""`snasnet eval`: accuracy, loss and spike statistics of a checkpoint (ours, or the original's)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from snasnet_cli import closed_pipe
from snasnet_cli.arch_rows import join_arch_rows
from snasnet_cli.config_option import config_extras, config_option, merged, one_source
from snasnet_cli.options import DATASETS, MODELS, PRECISIONS, DeviceOption, QuietOption, RunDirOption

# Rows of `--arch 0302 0030 3003 0000` after the first arrive as extra arguments (see arch_rows).
CONTEXT = {"allow_extra_args": True}
ORIGINAL = "The original's checkpoints (they do not record their network)"


def evaluate(
    ctx: typer.Context,
    checkpoint: Annotated[str, typer.Argument(help="A checkpoint: checkpoints/best.pt of a run, or the original's.")],
    model: Annotated[
        str | None,
        typer.Option(
            "--model", help=f"The named network it holds ({MODELS}): cell, pooling, dataset.", rich_help_panel=ORIGINAL
        ),
    ] = None,
    arch: Annotated[
        str | None, typer.Option("--arch", help="The cell: --arch 0302 0030 3003 0000.", rich_help_panel=ORIGINAL)
    ] = None,
    dataset: Annotated[
        str | None,
        typer.Option("--dataset", help=f"The dataset: {DATASETS} \\[default: the one it was trained on]."),
    ] = None,
    celltype: Annotated[
        str | None,
        typer.Option("--celltype", help="forward or backward \\[default: backward].", rich_help_panel=ORIGINAL),
    ] = None,
    second_avgpooling: Annotated[
        int | None,
        typer.Option(
            "--second-avgpooling", help="Pooling before the classifier \\[default: 2].", rich_help_panel=ORIGINAL
        ),
    ] = None,
    timesteps: Annotated[
        int | None, typer.Option("--timesteps", help="Timesteps T \\[default: the network's].")
    ] = None,
    data_dir: Annotated[
        Path | None, typer.Option("--data-dir", help="Where the dataset lies \\[default: the training run's].")
    ] = None,
    download: Annotated[bool, typer.Option("--download", help="Download CIFAR if it is missing (online).")] = False,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per batch.")] = 256,
    device: DeviceOption = "auto",
    precision: Annotated[
        str, typer.Option("--precision", help=f"What the accuracies are computed in: {PRECISIONS}.")
    ] = "fp32",
    workers: Annotated[int, typer.Option("--workers", min=0, help="DataLoader worker processes.")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the results as JSON for machines.")] = False,
    run_dir: RunDirOption = None,
    quiet: QuietOption = False,
    config_file: config_option("snasnet.train.evaluate:EvalConfig") = None,
) -> None:
    """Evaluate a checkpoint on its test set: top-1, top-5, loss, firing rate and spikes per image per layer.

    Ours need nothing else. The original's need their network, as in its README:
    [bold]snasnet eval save_cifar100_bw.pth.tar --arch 0302 0030 3003 0000 --dataset cifar100 --celltype backward[/bold]
    or by name: [bold]snasnet eval --model snasnet-cifar100-bw save_cifar100_bw.pth.tar[/bold]
    """
    from snasnet.core.errors import ConfigError
    from snasnet.core.interrupts import sigterm_as_interrupt
    from snasnet.train.evaluate import EvalConfig, evaluate_checkpoint

    sigterm_as_interrupt()  # an evaluation holds no state to save: SIGTERM ends the run as cancelled at once

    arch, rest = join_arch_rows(arch, [checkpoint, *ctx.args])
    if len(rest) != 1:
        raise ConfigError(f"give one checkpoint (got {' '.join(rest) or 'none'})")
    given = {
        "checkpoint": rest[0],
        "dataset": dataset,
        "data_dir": None if data_dir is None else str(data_dir),
        "download": download,
        "model": model,
        "arch": arch,
        "celltype": celltype,
        "second_avgpooling": second_avgpooling,
        "timesteps": timesteps,
        "batch_size": batch_size,
        "device": device,
        "precision": precision,
        "workers": workers,
    }
    config = EvalConfig(**merged(config_extras(ctx), one_source(ctx, given)))
    console = closed_pipe.console(stderr=True, highlight=False)
    progress = None if quiet or as_json else _progress(console)
    started = {}

    from snasnet.core.interrupts import GracefulStop

    # Ctrl-C or SIGTERM: while loading, at once; once the loader starts (on_batch(0, ...)), between batches, where
    # the DataLoader's workers are shut down cleanly. An interrupt while the main process receives a batch from a
    # worker resets the connection the worker serves the batch's memory on, and the worker prints its traceback.
    stop = GracefulStop(at_once=lambda: not started.get("batches"))

    def on_batch(done: int, total: int) -> None:
        started["batches"] = True
        if stop.requested:
            raise KeyboardInterrupt
        if progress is None:
            return
        if "task" not in started:
            progress.start()
            started["task"] = progress.add_task("eval", total=total)
        progress.update(started["task"], completed=done)

    try:
        with stop:  # a terminated evaluation records cancelled, like Ctrl-C
            result = evaluate_checkpoint(config, run_dir, on_batch=on_batch)
    except KeyboardInterrupt:
        console.print("evaluation interrupted")
        raise typer.Exit(130) from None
    finally:
        if "task" in started:
            progress.stop()
    if as_json:
        typer.echo(json.dumps({"checkpoint": config.checkpoint, **result.to_dict()}, indent=2))
        return
    out = closed_pipe.console(highlight=False)
    _print(out, config.checkpoint, result)  # --quiet drops the progress, not the result


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("eval"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("batches"),
        TimeRemainingColumn(),
        console=console,
    )


def _print(console: Console, checkpoint: str, result) -> None:
    console.print(f"{checkpoint}: {result.images:,} test images", soft_wrap=True)
    summary = Table(show_header=False)
    summary.add_column(style="bold")
    summary.add_column(justify="right")
    for name, value in (
        (f"top-1 ({result.precision})", f"{100 * result.top1:.2f}%"),
        (f"top-5 ({result.precision})", f"{100 * result.top5:.2f}%"),
        ("loss", f"{result.loss:.4f}"),
        ("spikes per image", f"{result.total_spikes_per_image:,.1f}"),
        ("mean firing rate", f"{result.mean_firing_rate:.4f}"),
    ):
        summary.add_row(name, value)
    console.print(summary)
    layers = Table(title="spikes per LIF layer (summed over the T steps)", title_justify="left")
    layers.add_column("layer")
    layers.add_column("firing rate", justify="right")
    layers.add_column("spikes per image", justify="right")
    for name, rate in result.firing_rates.items():
        layers.add_row(result.layer_labels.get(name, name), f"{rate:.4f}", f"{result.spikes_per_image[name]:,.1f}")
    layers.add_row("[bold]total[/bold]", f"{result.mean_firing_rate:.4f}", f"{result.total_spikes_per_image:,.1f}")
    console.print(layers)

"""`snasnet export onnx|energy|nir CKPT`: ship a checkpoint, verified. Thin: options -> ``exporters.jobs`` ->
rich output.

Each subcommand writes a run directory (``export_finished`` with the figures) and prints a short summary.
A check that fails (onnxruntime or the NIR simulation disagreeing with PyTorch) exits with status 1; Ctrl-C with
130, as the other jobs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from snasnet.network.arch import layer_label
from snasnet_cli import closed_pipe
from snasnet_cli.arch_rows import join_arch_rows
from snasnet_cli.config_option import config_option, one_source
from snasnet_cli.options import DATASETS, MODELS, DataDirOption, QuietOption, RunDirOption, choices

# Rows of `--arch 0302 0030 3003 0000` after the first arrive as extra arguments (see arch_rows), as in train and eval.
CONTEXT = {"allow_extra_args": True}

app = typer.Typer(
    name="export",
    help="Export a checkpoint: ONNX unrolled over timesteps (or one step), energy report, NIR.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

CheckpointArg = Annotated[Path, typer.Argument(help="Checkpoint: ours, or the original's (then give --arch).")]
ArchOption = Annotated[
    str | None, typer.Option("--arch", help="Original checkpoints only: the cell, e.g. --arch 0302 0030 3003 0000.")
]
PresetOption = Annotated[
    str | None, typer.Option("--preset", help="Original checkpoints only: network preset (default: --dataset's).")
]
CelltypeOpt = Annotated[str | None, typer.Option("--celltype", help="Original checkpoints only: forward or backward.")]
PoolingOption = Annotated[
    int | None, typer.Option("--second-avgpooling", help="Original checkpoints only: last pooling \\[default: 2].")
]
ModelOption = Annotated[
    str | None,
    typer.Option("--model", help=f"Original checkpoints only: the named network it holds ({MODELS})."),
]
TimestepsOpt = Annotated[int | None, typer.Option("--timesteps", help="Timesteps T (default: the checkpoint's).")]
DatasetOpt = Annotated[
    str | None,
    typer.Option("--dataset", help=f"Images for the check: {DATASETS} (default: the one it was trained on)."),
]
CheckImagesOption = Annotated[
    int, typer.Option("--check-images", min=0, help="Test images to compare on (0: skip the comparison).")
]


def _console() -> Console:
    console = closed_pipe.console(highlight=False, soft_wrap=True)
    if not console.is_terminal:  # a file or a pipe: whole lines, nothing cut to 80 columns
        console.width = 160
    return console


def _say(console: Console, quiet: bool):
    return (lambda text: None) if quiet else console.print


def _source(ctx: typer.Context, checkpoint, model, arch, preset, celltype, timesteps, second_avgpooling):
    """The checkpoint to export; ``--arch`` in four words gives its rows after the first among the positionals."""
    from exporters.jobs import ExportSource
    from snasnet.core.errors import ConfigError

    arch, rest = join_arch_rows(arch, [str(checkpoint), *ctx.args])
    if len(rest) != 1:
        raise ConfigError(f"give one checkpoint (got {' '.join(rest)})")
    cell = one_source(ctx, {"model": model, "arch": arch, "celltype": celltype, "second_avgpooling": second_avgpooling})
    return ExportSource(Path(rest[0]), timesteps=timesteps, preset=preset, **cell)


def _parse_batch(value: str) -> int | None:
    if value == "dynamic":
        return None
    if value.isascii() and value.isdigit() and int(value) > 0:  # ("²".isdigit() is true, and int() refuses it)
        return int(value)
    raise typer.BadParameter(f"{value!r}: give a positive number of images, or dynamic", param_hint="--batch")


def _choice(value: str, choices: tuple[str, ...] | list[str], option: str) -> str:
    if value not in choices:
        raise typer.BadParameter(f"{value!r}: choose one of {', '.join(choices)}", param_hint=option)
    return value


def _run_checked(fmt: str, job, summarise) -> None:
    """Run an export job; print its summary, also when its check failed (then exit 1). Ctrl-C exits 130 (the run
    records ``cancelled``)."""
    from exporters.jobs import CheckFailed
    from snasnet.core.interrupts import sigterm_as_interrupt

    sigterm_as_interrupt()  # SIGTERM records cancelled, as Ctrl-C (the file is written atomically or not at all)
    try:
        summarise(job())
    except CheckFailed as exc:
        summarise(exc.result)
        typer.echo(f"snasnet export {fmt}: {exc}", err=True)
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        typer.echo(f"snasnet export {fmt}: interrupted", err=True)
        raise typer.Exit(130) from None


# --- onnx ------------------------------------------------------------------------------------------
@app.command("onnx", context_settings=CONTEXT)
def onnx_command(
    ctx: typer.Context,
    checkpoint: CheckpointArg,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="ONNX file (default: <run dir>/model.onnx).")
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            "--mode", help=f"{choices('exporters.onnx:MODES')} (unrolled: all T steps in one graph; step: one step)."
        ),
    ] = "unrolled",
    batch: Annotated[str, typer.Option("--batch", help="Batch size of the graph: N, or dynamic.")] = "dynamic",
    opset: Annotated[int, typer.Option("--opset", help="ONNX opset version (dynamo: 18-23, torchscript: 9-20).")] = 18,
    spike_counts: Annotated[
        bool, typer.Option("--spike-counts", help="Add each LIF layer's spikes per image as outputs.")
    ] = False,
    exporter: Annotated[
        str, typer.Option("--exporter", help=f"{choices('exporters.onnx:EXPORTERS')} (dynamo: torch's default).")
    ] = "dynamo",
    timesteps: TimestepsOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOption = None,
    images: CheckImagesOption = 128,
    model: ModelOption = None,
    arch: ArchOption = None,
    preset: PresetOption = None,
    celltype: CelltypeOpt = None,
    second_avgpooling: PoolingOption = None,
    run_dir: RunDirOption = None,
    quiet: QuietOption = False,
    config_file: config_option(fixed={"format": "onnx"}) = None,
) -> None:
    """ONNX graph from image to class scores (LIF state explicit), checked in onnxruntime against PyTorch."""
    from exporters.jobs import export_onnx_job
    from exporters.onnx import EXPORTERS, MODES

    mode = _choice(mode, MODES.names(), "--mode")
    exporter = _choice(exporter, EXPORTERS.names(), "--exporter")
    fixed_batch = _parse_batch(batch)
    console = _console()
    source = _source(ctx, checkpoint, model, arch, preset, celltype, timesteps, second_avgpooling)
    _run_checked(
        "onnx",
        lambda: export_onnx_job(
            source,
            output,
            mode=mode,
            batch=fixed_batch,
            opset=opset,
            spike_counts=spike_counts,
            exporter=exporter,
            dataset=dataset,
            data_dir=data_dir,
            images=images,
            run_dir=run_dir,
            say=_say(console, quiet),
        ),  # fmt: skip
        lambda result: _summarise_onnx(console, result),
    )


def _summarise_onnx(c: Console, result) -> None:
    graph, figures = result.product, result.figures
    c.print(
        f"[bold]ONNX[/bold] {graph.path}: {graph.mode}, T={graph.timesteps}, opset {graph.opset}, batch "
        f"{graph.batch or 'dynamic'}, {len(graph.inputs)} input(s), {len(graph.outputs)} output(s)"
    )
    if not figures:
        c.print("check skipped (--check-images 0)")
        return
    c.print(f"onnx.checker: ok; onnxruntime vs PyTorch on {figures['images']} {figures['dataset']} images:")
    c.print(f"  {result.parity.summary()}")
    n = figures["images"]
    c.print(
        f"  time: onnxruntime {figures['onnxruntime_seconds'] / n * 1e3:.2f} ms/image, PyTorch "
        f"{figures['torch_seconds'] / n * 1e3:.2f} ms/image"
    )


# --- energy ----------------------------------------------------------------------------------------
@app.command("energy", context_settings=CONTEXT)
def energy_command(
    ctx: typer.Context,
    checkpoint: CheckpointArg,
    dataset: DatasetOpt = None,
    data_dir: DataDirOption = None,
    batches: Annotated[int, typer.Option("--batches", min=1, help="Test batches to measure spikes on.")] = 4,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="Images per batch.")] = 64,
    profile: Annotated[str, typer.Option("--profile", help="Energy per operation: see --list-profiles.")] = "45nm-fp32",
    list_profiles: Annotated[bool, typer.Option("--list-profiles", help="List the energy profiles and exit.")] = False,
    count_unused_feedback: Annotated[
        bool, typer.Option("--count-unused-feedback", help="Also count the last step's feedback (feeds no output).")
    ] = False,
    output: Annotated[Path | None, typer.Option("-o", "--output", help="Folder for energy.json/csv/png.")] = None,
    timesteps: TimestepsOpt = None,
    model: ModelOption = None,
    arch: ArchOption = None,
    preset: PresetOption = None,
    celltype: CelltypeOpt = None,
    second_avgpooling: PoolingOption = None,
    device: Annotated[str, typer.Option("--device", help="auto (CUDA if present), cpu, cuda or cuda:N.")] = "auto",
    run_dir: RunDirOption = None,
    quiet: QuietOption = False,
    config_file: config_option(fixed={"format": "energy"}) = None,
) -> None:
    """Per-layer energy from measured spikes, compute and memory traffic, beside the same-shape ANN, and the
    firing rate at which the two meet."""
    from exporters.energy_profiles import get_profile
    from exporters.energy_profiles import list_profiles as profile_names
    from exporters.jobs import export_energy_job

    if list_profiles:
        for name in profile_names():
            p = get_profile(name)
            typer.echo(f"{name}: E_MAC {p.e_mac_pj} pJ, E_AC {p.e_ac_pj} pJ. {p.source} ({p.word_bytes}-byte words)")
        raise typer.Exit()
    profile = _choice(profile, profile_names(), "--profile")
    console = _console()
    source = _source(ctx, checkpoint, model, arch, preset, celltype, timesteps, second_avgpooling)

    def summarise(result) -> None:
        _print_energy(console, result.product)
        console.print(f"wrote {result.path}, {result.figures['csv']}, {result.figures['chart']}")

    _run_checked(
        "energy",
        lambda: export_energy_job(
            source,
            output,
            dataset=dataset,
            data_dir=data_dir,
            batches=batches,
            batch_size=batch_size,
            profile=profile,
            count_unused_feedback=count_unused_feedback,
            device=device,
            run_dir=run_dir,
            say=_say(console, quiet),
        ),  # fmt: skip
        summarise,
    )


def _si(value: float) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.3g}{unit}"
    return f"{value:.3g}"


def _print_energy(console: Console, report) -> None:
    title = f"energy per image, nJ ({report.profile.name}, T={report.timesteps}, {report.images} images)"
    table = Table(title=title)
    columns = ("layer", "input", "rate", "SOPs", "SNN compute", "SNN memory", "SNN total",
               "ANN compute", "ANN memory", "ANN total")  # fmt: skip
    for column in columns:
        left = column in ("layer", "input")
        table.add_column(column, justify="left" if left else "right", overflow="fold" if left else "ellipsis")
    for row in report.layers:
        rate = "-" if row.input_firing_rate is None else f"{row.input_firing_rate:.3f}"
        energies = (row.snn_compute_pj, row.snn_memory_pj, row.snn_total_pj,
                    row.ann_compute_pj, row.ann_memory_pj, row.ann_total_pj)  # fmt: skip
        label = layer_label(row.layer, report.arch)
        table.add_row(label, row.input, rate, _si(row.sops), *(f"{e / 1e3:.4g}" for e in energies))
    t = report.totals()
    sums = ("snn_compute_pj", "snn_memory_pj", "snn_energy_pj", "ann_compute_pj", "ann_memory_pj", "ann_energy_pj")
    table.add_row(
        "total", "", f"{t['mean_firing_rate']:.3f}", _si(t["sops"]), *(f"{t[k] / 1e3:.4g}" for k in sums), style="bold"
    )
    console.print(table)
    p = report.profile
    console.print(
        f"SNN {t['snn_energy_pj'] / 1e6:.4g} uJ (compute {t['snn_compute_pj'] / 1e6:.4g}, memory "
        f"{t['snn_memory_pj'] / 1e6:.4g}) vs same-shape ANN {t['ann_energy_pj'] / 1e6:.4g} uJ (compute "
        f"{t['ann_compute_pj'] / 1e6:.4g}, memory {t['ann_memory_pj'] / 1e6:.4g}) per image: ratio {report.ratio:.4f} "
        f"(E_AC {p.e_ac_pj} pJ, E_MAC {p.e_mac_pj} pJ, {p.word_bytes}-byte words)"
    )
    rate = report.break_even_rate
    said = "none" if rate is None else f"{rate:.4g} spikes per neuron per step"
    console.print(f"break-even firing rate: {said} (measured: {t['mean_firing_rate']:.4g})")
    for note in report.notes:
        console.print(f"[dim]- {note}[/dim]")


# --- nir -------------------------------------------------------------------------------------------
@app.command("nir", context_settings=CONTEXT)
def nir_command(
    ctx: typer.Context,
    checkpoint: CheckpointArg,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="NIR file (default: <run dir>/model.nir).")
    ] = None,
    dt: Annotated[float, typer.Option("--dt", min=0.0, help="Seconds per timestep written into the file.")] = 1e-4,
    timesteps: TimestepsOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOption = None,
    images: CheckImagesOption = 64,
    importers: Annotated[
        str | None,
        typer.Option(
            "--check",
            help="Importers to run the file in, comma-separated: nirtorch, snntorch, norse, spikingjelly, sinabs "
            "(default: every one installed that can load the file, the others listed as not applicable; nirtorch "
            "always runs).",
        ),
    ] = None,
    model: ModelOption = None,
    arch: ArchOption = None,
    preset: PresetOption = None,
    celltype: CelltypeOpt = None,
    second_avgpooling: PoolingOption = None,
    run_dir: RunDirOption = None,
    quiet: QuietOption = False,
    config_file: config_option(fixed={"format": "nir"}) = None,
) -> None:
    """NIR graph of one timestep (read back with nir.read, run for T steps in nirtorch and the installed
    toolchains' importers, compared with PyTorch)."""
    from exporters.jobs import export_nir_job
    from exporters.nir_importers import IMPORTERS

    if importers is not None:
        names = [name.strip() for name in importers.split(",") if name.strip()]
        importers = [_choice(name, IMPORTERS.names(), "--check") for name in names]
    console = _console()
    source = _source(ctx, checkpoint, model, arch, preset, celltype, timesteps, second_avgpooling)

    def summarise(result) -> None:
        f = result.figures
        console.print(
            f"[bold]NIR[/bold] {result.path}: {f['nodes']} nodes, {f['edges']} edges, dt {dt:g} s, read back "
            f"with nir.read; recurrent edges: {f['recurrent_edges']}"
        )
        if result.parity is not None:
            console.print(f"NIR simulation vs PyTorch: {result.parity.summary()}")
        if f.get("importers"):
            _print_importers(console, f["importers"], f["images"], f["dataset"])

    _run_checked(
        "nir",
        lambda: export_nir_job(
            source,
            output,
            dt=dt,
            dataset=dataset,
            data_dir=data_dir,
            images=images,
            importers=importers,
            run_dir=run_dir,
            say=_say(console, quiet),
        ),  # fmt: skip
        summarise,
    )


def _print_importers(console: Console, rows: list[dict], images: int, dataset: str) -> None:
    table = Table(title=f"NIR importers vs PyTorch ({images} {dataset} images)")
    for column in ("importer", "loads", "predictions agree", "logits within 1e-3", "max |diff|", "verdict"):
        table.add_column(column, justify="left" if column in ("importer", "verdict") else "right")
    for row in rows:
        p = row["parity"]
        if p is None:
            reason = row["error"] if row["installed"] else "not installed"
            if not row.get("applicable", True):
                reason = f"not applicable: {reason}"
            loads = "no" if row["installed"] and row.get("applicable", True) else "-"
            table.add_row(row["importer"], loads, "-", "-", "-", reason)
            continue
        table.add_row(
            row["importer"], "yes", f"{p['predictions_agree']}/{p['samples']}", f"{p['logits_close']}/{p['samples']}",
            f"{p['max_abs_diff']:.3g}", "pass" if p["passed"] else "FAIL",
        )  # fmt: skip
    console.print(table)

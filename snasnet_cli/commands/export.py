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
from snasnet_cli.arch_rows import join_arch_rows
from snasnet_cli.options import DATASETS, DataDirOption, QuietOption, RunDirOption, choices

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
PoolingOption = Annotated[int, typer.Option("--second-avgpooling", help="Original checkpoints only: last pooling.")]
TimestepsOpt = Annotated[int | None, typer.Option("--timesteps", help="Timesteps T (default: the checkpoint's).")]
DatasetOpt = Annotated[
    str | None,
    typer.Option("--dataset", help=f"Images for the check: {DATASETS} (default: the one it was trained on)."),
]
CheckImagesOption = Annotated[
    int, typer.Option("--check-images", min=0, help="Test images to compare on (0: skip the comparison).")
]


def _console() -> Console:
    console = Console(highlight=False, soft_wrap=True)
    if not console.is_terminal:  # a file or a pipe: whole lines, nothing cut to 80 columns
        console.width = 160
    return console


def _say(console: Console, quiet: bool):
    return (lambda text: None) if quiet else console.print


def _source(ctx: typer.Context, checkpoint, arch, preset, celltype, timesteps, second_avgpooling):
    """The checkpoint to export; ``--arch`` in four words gives its rows after the first among the positionals."""
    from exporters.jobs import ExportSource
    from snasnet.core.errors import ConfigError

    arch, rest = join_arch_rows(arch, [str(checkpoint), *ctx.args])
    if len(rest) != 1:
        raise ConfigError(f"give one checkpoint (got {' '.join(rest)})")
    return ExportSource(Path(rest[0]), arch, preset, celltype, timesteps, second_avgpooling)


def _parse_batch(value: str) -> int | None:
    if value == "dynamic":
        return None
    if value.isdigit() and int(value) > 0:
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
    check_images: CheckImagesOption = 128,
    arch: ArchOption = None,
    preset: PresetOption = None,
    celltype: CelltypeOpt = None,
    second_avgpooling: PoolingOption = 2,
    run_dir: RunDirOption = None,
    quiet: QuietOption = False,
) -> None:
    """ONNX graph from image to class scores (LIF state explicit), checked in onnxruntime against PyTorch."""
    from exporters.jobs import export_onnx_job
    from exporters.onnx import EXPORTERS, MODES

    mode = _choice(mode, MODES.names(), "--mode")
    exporter = _choice(exporter, EXPORTERS.names(), "--exporter")
    fixed_batch = _parse_batch(batch)
    console = _console()
    source = _source(ctx, checkpoint, arch, preset, celltype, timesteps, second_avgpooling)
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
            images=check_images,
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
    arch: ArchOption = None,
    preset: PresetOption = None,
    celltype: CelltypeOpt = None,
    second_avgpooling: PoolingOption = 2,
    device: Annotated[str, typer.Option("--device", help="auto (CUDA if present), cpu, cuda or cuda:N.")] = "auto",
    run_dir: RunDirOption = None,
    quiet: QuietOption = False,
) -> None:
    """Per-layer energy from measured spikes (SOPs x E_AC, analog inputs MACs x E_MAC) beside the same-shape ANN."""
    from exporters.energy_profiles import get_profile
    from exporters.energy_profiles import list_profiles as profile_names
    from exporters.jobs import export_energy_job

    if list_profiles:
        for name in profile_names():
            p = get_profile(name)
            typer.echo(f"{name}: E_MAC {p.e_mac_pj} pJ, E_AC {p.e_ac_pj} pJ. {p.source}")
        raise typer.Exit()
    profile = _choice(profile, profile_names(), "--profile")
    console = _console()
    source = _source(ctx, checkpoint, arch, preset, celltype, timesteps, second_avgpooling)

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
    table = Table(title=f"energy per image ({report.profile.name}, T={report.timesteps}, {report.images} images)")
    for column in ("layer", "input", "rate", "calls", "SOPs", "dense MACs", "energy nJ", "ANN nJ"):
        left = column in ("layer", "input")
        table.add_column(column, justify="left" if left else "right", overflow="fold" if left else "ellipsis")
    for row in report.layers:
        rate = "-" if row.input_firing_rate is None else f"{row.input_firing_rate:.3f}"
        table.add_row(
            layer_label(row.layer, report.arch),
            row.input,
            rate,
            f"{row.calls_per_image:g}",
            _si(row.sops),
            _si(row.dense_macs),
            f"{row.energy_pj / 1e3:.4g}",
            f"{row.ann_energy_pj / 1e3:.4g}",
        )
    t = report.totals()
    table.add_row(
        "total", "", "", "", _si(t["sops"]), _si(t["snn_dense_macs"]),
        f"{t['snn_energy_pj'] / 1e3:.4g}", f"{t['ann_energy_pj'] / 1e3:.4g}", style="bold",
    )  # fmt: skip
    console.print(table)
    console.print(
        f"SNN {t['snn_energy_pj'] / 1e6:.4g} uJ vs same-shape ANN {t['ann_energy_pj'] / 1e6:.4g} uJ per image: "
        f"ratio {report.ratio:.4f} (E_AC {report.profile.e_ac_pj} pJ, E_MAC {report.profile.e_mac_pj} pJ)"
    )
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
    check_images: CheckImagesOption = 64,
    check: Annotated[
        str | None,
        typer.Option(
            "--check",
            help="Importers to run the file in, comma-separated: nirtorch, snntorch, norse, spikingjelly, sinabs "
            "(default: every one installed that can load the file, the others listed as not applicable; nirtorch "
            "always runs).",
        ),
    ] = None,
    arch: ArchOption = None,
    preset: PresetOption = None,
    celltype: CelltypeOpt = None,
    second_avgpooling: PoolingOption = 2,
    run_dir: RunDirOption = None,
    quiet: QuietOption = False,
) -> None:
    """NIR graph of one timestep (read back with nir.read, run for T steps in nirtorch and the installed
    toolchains' importers, compared with PyTorch)."""
    from exporters.jobs import export_nir_job
    from exporters.nir_importers import IMPORTERS

    importers = None
    if check is not None:
        importers = [_choice(name.strip(), IMPORTERS.names(), "--check") for name in check.split(",") if name.strip()]
    console = _console()
    source = _source(ctx, checkpoint, arch, preset, celltype, timesteps, second_avgpooling)

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
            images=check_images,
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

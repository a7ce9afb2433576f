"""`snasnet export onnx|energy|nir CKPT`: ship a checkpoint, verified. Thin: options -> exporters -> rich output.

Each subcommand writes a run directory (``export_finished`` with the figures) and prints a short summary.
A check that fails (onnxruntime or the NIR simulation disagreeing with PyTorch) exits with status 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from snasnet_cli.options import DataDirOption, QuietOption, RunDirOption

app = typer.Typer(
    name="export",
    help="Export a checkpoint: ONNX unrolled over timesteps (or one step), energy report, NIR.",
    no_args_is_help=True,
    rich_markup_mode="rich",
)

CheckpointArg = Annotated[Path, typer.Argument(help="Checkpoint: ours, or the original's (then give --arch).")]
ArchOption = Annotated[
    str | None, typer.Option("--arch", help="Original checkpoints only: the cell, e.g. '0302 0030 3003 0000'.")
]
PresetOption = Annotated[
    str | None, typer.Option("--preset", help="Original checkpoints only: network preset (default: --dataset's).")
]
CelltypeOpt = Annotated[str | None, typer.Option("--celltype", help="Original checkpoints only: forward or backward.")]
PoolingOption = Annotated[int, typer.Option("--second-avgpooling", help="Original checkpoints only: last pooling.")]
TimestepsOpt = Annotated[int | None, typer.Option("--timesteps", help="Timesteps T (default: the checkpoint's).")]
DatasetOpt = Annotated[
    str | None,
    typer.Option("--dataset", help="Images for the check: digits, synthetic, cifar10 ... (default: the preset's)."),
]
CheckImagesOption = Annotated[
    int, typer.Option("--check-images", min=0, help="Test images to compare on (0: skip the comparison).")
]


class CheckFailed(Exception):
    """The exported file does not compute what the model computes (exit status 1)."""


class _Session:
    """What every export subcommand does around its exporter: load, run directory, events, console."""

    def __init__(self, fmt: str, checkpoint: Path, quiet: bool) -> None:
        self.format, self.checkpoint, self.quiet = fmt, checkpoint, quiet
        self.console = Console(highlight=False, soft_wrap=True)
        if not self.console.is_terminal:  # a file or a pipe: whole lines, nothing cut to 80 columns
            self.console.width = 160

    def say(self, text: str) -> None:
        if not self.quiet:
            self.console.print(text)

    def load(self, arch, preset, celltype, timesteps, pooling, dataset):
        from snasnet.checkpoint import load_checkpoint
        from snasnet.presets import list_presets

        if preset is None and dataset in list_presets():
            preset = dataset
        model = load_checkpoint(
            self.checkpoint,
            arch=arch,
            preset=preset,
            celltype=celltype,
            timesteps=timesteps,
            second_avgpooling=pooling,
        )
        return model.eval()

    def run_dir(self, model, run_dir: Path | None, config: dict):
        from snasnet.runs import RunDir

        config = {"format": self.format, "checkpoint": str(self.checkpoint), **config}
        run = RunDir.create("export", config, run_dir, arch=str(model.arch), celltype=model.arch.celltype)
        self.say(f"run directory: {run.path}")
        return run


def _images(model, dataset: str | None, data_dir: Path | None, count: int, split: str = "test"):
    """``count`` images of ``dataset`` (default: the one named like the model's preset)."""
    import torch

    from snasnet.data import get_dataset
    from snasnet.errors import DataError

    name = dataset or model.preset.name
    p = model.preset
    options = {}
    if name == "synthetic":  # random images shaped for this model
        options = dict(in_channels=p.in_channels, image_size=p.image_size, num_classes=p.num_classes)
    try:
        bundle = get_dataset(name, data_dir, **options)
    except DataError as exc:
        raise DataError(f"{exc} (or check on random images: --dataset synthetic)") from None
    if (bundle.in_channels, bundle.image_size) != (p.in_channels, p.image_size):
        raise DataError(
            f"dataset {name} has {bundle.in_channels}x{bundle.image_size}x{bundle.image_size} images; the model "
            f"takes {p.in_channels}x{p.image_size}x{p.image_size}"
        )
    data = getattr(bundle, split)
    count = min(count, len(data))
    return torch.stack([data[i][0] for i in range(count)]), name


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


def _fail_on(check_passed: bool, message: str) -> None:
    if not check_passed:
        raise CheckFailed(message)


def _finish_failed_check(session: _Session, exc: CheckFailed) -> None:
    typer.echo(f"snasnet export {session.format}: {exc}", err=True)
    raise typer.Exit(1)


# --- onnx ------------------------------------------------------------------------------------------
@app.command("onnx")
def onnx_command(
    checkpoint: CheckpointArg,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="ONNX file (default: <run dir>/model.onnx).")
    ] = None,
    mode: Annotated[
        str, typer.Option("--mode", help="unrolled: all T steps in one graph; step: one timestep.")
    ] = "unrolled",
    batch: Annotated[str, typer.Option("--batch", help="Batch size of the graph: N, or dynamic.")] = "dynamic",
    opset: Annotated[int, typer.Option("--opset", min=7, help="ONNX opset version.")] = 18,
    spike_counts: Annotated[
        bool, typer.Option("--spike-counts", help="Add each LIF layer's spikes per image as outputs.")
    ] = False,
    exporter: Annotated[str, typer.Option("--exporter", help="dynamo (torch's default) or torchscript.")] = "dynamo",
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
    from exporters.onnx import EXPORTERS, MODES, check_onnx, export_onnx

    mode = _choice(mode, MODES, "--mode")
    exporter = _choice(exporter, list(EXPORTERS), "--exporter")
    fixed_batch = _parse_batch(batch)
    session = _Session("onnx", checkpoint, quiet)
    model = session.load(arch, preset, celltype, timesteps, second_avgpooling, dataset)
    images, data_name = _images(model, dataset, data_dir, check_images) if check_images else (None, None)
    config = {"mode": mode, "batch": batch, "opset": opset, "exporter": exporter, "timesteps": model.timesteps}
    run = session.run_dir(model, run_dir, config)
    path = output or run.path / "model.onnx"
    try:
        with run.job(job="export", format="onnx", checkpoint=str(checkpoint)):
            session.say(f"exporting {model.arch} ({model.arch.celltype}, {model.preset.name}, T={model.timesteps}) ...")
            graph = export_onnx(
                model, path, mode=mode, opset=opset, batch=fixed_batch, spike_counts=spike_counts, exporter=exporter
            )
            session.say(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {graph.seconds:.1f} s")
            figures: dict = {}
            if images is not None:
                session.say(f"checking: onnx.checker, then onnxruntime vs PyTorch on {len(images)} {data_name} images")
                check = check_onnx(path, model, images)
                figures = {**check.to_dict(), "dataset": data_name, "images": len(images)}
            run.emit("export_finished", format="onnx", **graph.to_dict(), **figures)
            _summarise_onnx(session, graph, figures)
            if figures:
                _fail_on(check.passed, f"onnxruntime does not reproduce PyTorch: {check.parity.summary()}")
    except CheckFailed as exc:
        _finish_failed_check(session, exc)


def _summarise_onnx(session: _Session, graph, figures: dict) -> None:
    c = session.console
    c.print(
        f"[bold]ONNX[/bold] {graph.path}: {graph.mode}, T={graph.timesteps}, opset {graph.opset}, batch "
        f"{graph.batch or 'dynamic'}, {len(graph.inputs)} input(s), {len(graph.outputs)} output(s)"
    )
    if not figures:
        c.print("check skipped (--check-images 0)")
        return
    from exporters.parity import Parity

    p = figures["parity"]
    parity = Parity(p["samples"], p["predictions_agree"], p["logits_close"], p["max_abs_diff"], p["tolerance"])
    c.print(f"onnx.checker: ok; onnxruntime vs PyTorch on {figures['images']} {figures['dataset']} images:")
    c.print(f"  {parity.summary()}")
    n = figures["images"]
    c.print(
        f"  time: onnxruntime {figures['onnxruntime_seconds'] / n * 1e3:.2f} ms/image, PyTorch "
        f"{figures['torch_seconds'] / n * 1e3:.2f} ms/image"
    )


# --- energy ----------------------------------------------------------------------------------------
@app.command("energy")
def energy_command(
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

    if list_profiles:
        for name in profile_names():
            p = get_profile(name)
            typer.echo(f"{name}: E_MAC {p.e_mac_pj} pJ, E_AC {p.e_ac_pj} pJ. {p.source}")
        raise typer.Exit()
    profile = _choice(profile, profile_names(), "--profile")
    from torch.utils.data import DataLoader

    from exporters.energy import count_operations, energy_report
    from exporters.energy_chart import write_energy_chart
    from snasnet.device import resolve_device

    session = _Session("energy", checkpoint, quiet)
    model = session.load(arch, preset, celltype, timesteps, second_avgpooling, dataset)
    images, data_name = _images(model, dataset, data_dir, batches * batch_size)
    model = model.to(resolve_device(device))
    config = {"profile": profile, "batches": batches, "batch_size": batch_size, "dataset": data_name}
    run = session.run_dir(model, run_dir, config)
    folder = output or run.path
    folder.mkdir(parents=True, exist_ok=True)
    with run.job(job="export", format="energy", checkpoint=str(checkpoint)):
        session.say(f"measuring spikes on {len(images)} {data_name} images ...")
        counts = count_operations(
            model, DataLoader(images, batch_size=batch_size), count_unused_feedback=count_unused_feedback
        )
        report = energy_report(model, counts, profile)
        json_path = report.write_json(folder / "energy.json")
        csv_path = report.write_csv(folder / "energy.csv")
        png_path = write_energy_chart(report, folder / "energy.png")
        totals = report.totals()
        run.emit(
            "export_finished",
            format="energy",
            path=json_path,
            csv=csv_path,
            chart=png_path,
            profile=profile,
            dataset=data_name,
            images=report.images,
            timesteps=report.timesteps,
            **totals,
            firing_rates=report.lif_firing_rates,
        )
        _print_energy(session.console, report)
        session.console.print(f"wrote {json_path}, {csv_path}, {png_path}")


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
            row.layer,
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
@app.command("nir")
def nir_command(
    checkpoint: CheckpointArg,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="NIR file (default: <run dir>/model.nir).")
    ] = None,
    dt: Annotated[float, typer.Option("--dt", min=0.0, help="Seconds per timestep written into the file.")] = 1e-4,
    timesteps: TimestepsOpt = None,
    dataset: DatasetOpt = None,
    data_dir: DataDirOption = None,
    check_images: CheckImagesOption = 64,
    arch: ArchOption = None,
    preset: PresetOption = None,
    celltype: CelltypeOpt = None,
    second_avgpooling: PoolingOption = 2,
    run_dir: RunDirOption = None,
    quiet: QuietOption = False,
) -> None:
    """NIR graph of one timestep (read back with nir.read, simulated for T steps with nirtorch, compared)."""
    from exporters.nir import export_nir
    from exporters.nir_simulation import simulate_nir
    from exporters.onnx import torch_scores
    from exporters.parity import compare_scores

    session = _Session("nir", checkpoint, quiet)
    model = session.load(arch, preset, celltype, timesteps, second_avgpooling, dataset)
    images, data_name = _images(model, dataset, data_dir, check_images) if check_images else (None, None)
    run = session.run_dir(model, run_dir, {"dt": dt, "timesteps": model.timesteps})
    path = output or run.path / "model.nir"
    try:
        with run.job(job="export", format="nir", checkpoint=str(checkpoint)):
            import nir

            export_nir(model, path, dt=dt)
            graph = nir.read(path)  # the round trip: what a NIR tool will see
            figures = {"nodes": len(graph.nodes), "edges": len(graph.edges), "read_back": True}
            session.console.print(
                f"[bold]NIR[/bold] {path}: {figures['nodes']} nodes, {figures['edges']} edges, dt {dt:g} s, read back "
                f"with nir.read; recurrent edges: {graph.metadata.get('recurrent_edges')}"
            )
            if images is not None:
                session.say(f"simulating {model.timesteps} steps with nirtorch on {len(images)} {data_name} images")
                parity = compare_scores(simulate_nir(graph, images, model.timesteps), torch_scores(model, images))
                figures.update(parity=parity.to_dict(), dataset=data_name, images=len(images))
                session.console.print(f"NIR simulation vs PyTorch: {parity.summary()}")
            run.emit("export_finished", format="nir", path=path, dt=dt, timesteps=model.timesteps, **figures)
            if images is not None:
                _fail_on(parity.passed, f"the NIR simulation does not reproduce PyTorch: {parity.summary()}")
    except CheckFailed as exc:
        _finish_failed_check(session, exc)

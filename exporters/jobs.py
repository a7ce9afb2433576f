"""Export jobs: load a checkpoint, export it, check the file against the PyTorch model, and record it all in
a run directory (``export_finished`` with the figures). What ``snasnet export onnx|energy|nir`` runs, usable
from Python:

    from exporters.jobs import ExportSource, export_onnx_job
    result = export_onnx_job(ExportSource("runs/train-.../checkpoints/best.pt"), dataset="digits")
    result.figures["parity"], result.path, result.run_dir

A check that fails raises ``CheckFailed`` after the figures are recorded; the run ends as ``failed``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from exporters.parity import Parity
from snasnet.checkpoint import load_checkpoint
from snasnet.data import get_dataset
from snasnet.errors import DataError
from snasnet.model import SNASNet
from snasnet.presets import list_presets
from snasnet.runs import RunDir

Say = Callable[[str], None]


class CheckFailed(Exception):
    """The exported file does not compute what the model computes; ``result`` holds the figures."""

    def __init__(self, message: str, result: ExportResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class ExportSource:
    """A checkpoint to export: ours describes its network; the original's needs ``arch`` and a preset (or a
    dataset named like one) and the ``celltype`` and ``second_avgpooling`` it was trained with."""

    checkpoint: Path
    arch: str | None = None
    preset: str | None = None
    celltype: str | None = None
    timesteps: int | None = None
    second_avgpooling: int = 2

    def load(self, dataset: str | None = None) -> SNASNet:
        """The model in eval mode."""
        preset = self.preset if self.preset is not None or dataset not in list_presets() else dataset
        return load_checkpoint(
            self.checkpoint,
            arch=self.arch,
            preset=preset,
            celltype=self.celltype,
            timesteps=self.timesteps,
            second_avgpooling=self.second_avgpooling,
        ).eval()


@dataclass
class ExportResult:
    run_dir: Path
    path: Path
    figures: dict = field(default_factory=dict)
    #: what the exporter returned (the ONNX graph's description, the energy report, the NIR graph read back)
    product: object = None
    #: how the exported file's scores compare with PyTorch's (None when not checked)
    parity: Parity | None = None


def check_images(
    model: SNASNet, dataset: str | None, data_dir: str | os.PathLike | None, count: int, split: str = "test"
) -> tuple[torch.Tensor, str]:
    """``count`` images of ``dataset`` (default: the one named like the model's preset) to compare on;
    ``synthetic`` gives random images shaped for the model."""
    name = dataset or model.preset.name
    p = model.preset
    options = {}
    if name == "synthetic":
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


def _open_run(fmt: str, source: ExportSource, model: SNASNet, run_dir, config: dict, say: Say) -> RunDir:
    config = {"format": fmt, "checkpoint": str(source.checkpoint), **config}
    run = RunDir.create("export", config, run_dir, arch=str(model.arch), celltype=model.arch.celltype)
    say(f"run directory: {run.path}")
    return run


def _quiet(text: str) -> None:
    pass


def export_onnx_job(
    source: ExportSource,
    output: str | os.PathLike | None = None,
    *,
    mode: str = "unrolled",
    batch: int | None = None,
    opset: int = 18,
    spike_counts: bool = False,
    exporter: str = "dynamo",
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    images: int = 128,
    run_dir: str | os.PathLike | None = None,
    say: Say = _quiet,
) -> ExportResult:
    """Export to ONNX (``batch`` None: dynamic), then ``onnx.checker`` and onnxruntime vs PyTorch on
    ``images`` test images (0: no comparison)."""
    from exporters.onnx import check_onnx, export_onnx

    model = source.load(dataset)
    batch_images, data_name = check_images(model, dataset, data_dir, images) if images else (None, None)
    config = {"mode": mode, "batch": batch or "dynamic", "opset": opset, "exporter": exporter,
              "timesteps": model.timesteps}  # fmt: skip
    run = _open_run("onnx", source, model, run_dir, config, say)
    path = Path(output) if output is not None else run.path / "model.onnx"
    with run.job(job="export", format="onnx", checkpoint=str(source.checkpoint)):
        say(f"exporting {model.arch} ({model.arch.celltype}, {model.preset.name}, T={model.timesteps}) ...")
        graph = export_onnx(model, path, mode=mode, opset=opset, batch=batch, spike_counts=spike_counts,
                            exporter=exporter)  # fmt: skip
        say(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in {graph.seconds:.1f} s")
        figures: dict = {}
        check = None
        if batch_images is not None:
            say(f"checking: onnx.checker, then onnxruntime vs PyTorch on {len(batch_images)} {data_name} images")
            check = check_onnx(path, model, batch_images)
            figures = {**check.to_dict(), "dataset": data_name, "images": len(batch_images)}
        run.emit("export_finished", format="onnx", **graph.to_dict(), **figures)
        result = ExportResult(run.path, path, figures, graph, None if check is None else check.parity)
        if check is not None and not check.passed:
            raise CheckFailed(f"onnxruntime does not reproduce PyTorch: {check.parity.summary()}", result)
    return result


def export_energy_job(
    source: ExportSource,
    output: str | os.PathLike | None = None,
    *,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    batches: int = 4,
    batch_size: int = 64,
    profile: str = "45nm-fp32",
    count_unused_feedback: bool = False,
    device: str = "auto",
    run_dir: str | os.PathLike | None = None,
    say: Say = _quiet,
) -> ExportResult:
    """Measure spikes on ``batches`` test batches and price them: ``energy.json``, ``energy.csv`` and
    ``energy.png`` in ``output`` (default: the run directory). ``result.product`` is the EnergyReport."""
    from torch.utils.data import DataLoader

    from exporters.energy import count_operations, energy_report
    from exporters.energy_chart import write_energy_chart
    from exporters.energy_profiles import get_profile
    from snasnet.device import resolve_device

    get_profile(profile)  # an unknown profile is refused before any work
    model = source.load(dataset)
    images, data_name = check_images(model, dataset, data_dir, batches * batch_size)
    model = model.to(resolve_device(device))
    config = {"profile": profile, "batches": batches, "batch_size": batch_size, "dataset": data_name}
    run = _open_run("energy", source, model, run_dir, config, say)
    folder = Path(output) if output is not None else run.path
    folder.mkdir(parents=True, exist_ok=True)
    with run.job(job="export", format="energy", checkpoint=str(source.checkpoint)):
        say(f"measuring spikes on {len(images)} {data_name} images ...")
        loader = DataLoader(images, batch_size=batch_size)
        counts = count_operations(model, loader, count_unused_feedback=count_unused_feedback)
        report = energy_report(model, counts, profile)
        json_path = report.write_json(folder / "energy.json")
        csv_path = report.write_csv(folder / "energy.csv")
        png_path = write_energy_chart(report, folder / "energy.png")
        figures = {"csv": csv_path, "chart": png_path, "profile": profile, "dataset": data_name,
                   "images": report.images, "timesteps": report.timesteps, **report.totals(),
                   "firing_rates": report.lif_firing_rates}  # fmt: skip
        run.emit("export_finished", format="energy", path=json_path, **figures)
    return ExportResult(run.path, json_path, figures, report)


def export_nir_job(
    source: ExportSource,
    output: str | os.PathLike | None = None,
    *,
    dt: float = 1e-4,
    dataset: str | None = None,
    data_dir: str | os.PathLike | None = None,
    images: int = 64,
    run_dir: str | os.PathLike | None = None,
    say: Say = _quiet,
) -> ExportResult:
    """Write one timestep as NIR, read it back with ``nir.read`` (the round trip a NIR tool sees), and
    simulate it for T steps with nirtorch on ``images`` test images (0: no simulation) against PyTorch."""
    import nir

    from exporters.nir import export_nir
    from exporters.nir_simulation import simulate_nir
    from exporters.parity import compare_scores, torch_scores

    model = source.load(dataset)
    batch_images, data_name = check_images(model, dataset, data_dir, images) if images else (None, None)
    run = _open_run("nir", source, model, run_dir, {"dt": dt, "timesteps": model.timesteps}, say)
    path = Path(output) if output is not None else run.path / "model.nir"
    with run.job(job="export", format="nir", checkpoint=str(source.checkpoint)):
        export_nir(model, path, dt=dt)
        graph = nir.read(path)
        figures = {"nodes": len(graph.nodes), "edges": len(graph.edges), "read_back": True,
                   "recurrent_edges": graph.metadata.get("recurrent_edges")}  # fmt: skip
        parity = None
        if batch_images is not None:
            say(f"simulating {model.timesteps} steps with nirtorch on {len(batch_images)} {data_name} images")
            simulated = simulate_nir(graph, batch_images, model.timesteps)
            parity = compare_scores(simulated, torch_scores(model, batch_images))
            figures.update(parity=parity.to_dict(), dataset=data_name, images=len(batch_images))
        run.emit("export_finished", format="nir", path=path, dt=dt, timesteps=model.timesteps, **figures)
        result = ExportResult(run.path, path, figures, graph, parity)
        if parity is not None and not parity.passed:
            raise CheckFailed(f"the NIR simulation does not reproduce PyTorch: {parity.summary()}", result)
    return result

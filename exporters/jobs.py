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
from snasnet.core.atomic import atomic_paths, output_target
from snasnet.core.errors import MAX_BATCH_SIZE, ConfigError, DataError, StorageError, check_at_most
from snasnet.core.runs import RunDir
from snasnet.data.datasets import DataBundle, get_dataset
from snasnet.network.checkpoint import load_checkpoint, read_checkpoint, trained_on
from snasnet.network.model import SNASNet
from snasnet.network.presets import list_presets
from snasnet.network.zoo import create_model, named_network

Say = Callable[[str], None]


class CheckFailed(Exception):
    """The exported file does not compute what the model computes; ``result`` holds the figures."""

    def __init__(self, message: str, result: ExportResult) -> None:
        super().__init__(message)
        self.result = result


@dataclass(frozen=True)
class ExportSource:
    """A checkpoint to export: ours describes its network; the original's needs ``arch`` and a preset (or a
    dataset named like one) and the ``celltype`` and ``second_avgpooling`` (None: 2) it was trained with, or
    ``model``, the named network it holds (``snasnet.network.zoo``), which gives them all."""

    checkpoint: Path
    arch: str | None = None
    preset: str | None = None
    celltype: str | None = None
    timesteps: int | None = None
    second_avgpooling: int | None = None
    model: str | None = None

    def load(self, dataset: str | None = None) -> SNASNet:
        """The model in eval mode."""
        if self.model is not None:
            if self.preset is not None:
                raise ConfigError(f"--model {self.model} names its preset: leave out --preset {self.preset}")
            given = {"arch": self.arch, "celltype": self.celltype, "second_avgpooling": self.second_avgpooling}
            named_network(self.model, given)  # a setting that contradicts the name is refused
            return create_model(self.model, weights=self.checkpoint, timesteps=self.timesteps).eval()
        preset = self.preset if self.preset is not None or dataset not in list_presets() else dataset
        return load_checkpoint(
            self.checkpoint,
            arch=self.arch,
            preset=preset,
            celltype=self.celltype,
            timesteps=self.timesteps,
            second_avgpooling=self.second_avgpooling or 2,
        ).eval()

    def settings(self) -> dict:
        """The fields given (not None), as a run's configuration records them."""
        fields_ = {"model": self.model, "arch": self.arch, "preset": self.preset, "celltype": self.celltype,
                   "timesteps": self.timesteps, "second_avgpooling": self.second_avgpooling}  # fmt: skip
        return {"checkpoint": str(self.checkpoint), **{k: v for k, v in fields_.items() if v is not None}}

    def trained_on(self) -> dict:
        """The data the checkpoint was trained on, as it recorded it (empty for the original's)."""
        return trained_on(read_checkpoint(self.checkpoint))


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
    model: SNASNet,
    dataset: str | None,
    data_dir: str | os.PathLike | None,
    count: int,
    split: str = "test",
    trained: dict | None = None,
) -> tuple[torch.Tensor, str]:
    """``count`` images of ``dataset`` to compare on. By default, as ``snasnet eval``: the data the checkpoint
    was trained on (``trained``: ``ExportSource.trained_on()``: its dataset, folder and options), else the
    dataset named like the model's preset (the original's checkpoints). ``synthetic`` gives random images shaped
    for the model."""
    bundle = model_data(model, dataset, data_dir, trained)
    name, p = bundle.name, model.preset
    bundle.check_model(model, "the model")
    if (bundle.in_channels, bundle.image_size) != (p.in_channels, p.image_size):
        raise DataError(
            f"dataset {name} has {bundle.in_channels}x{bundle.image_size}x{bundle.image_size} images; the model "
            f"takes {p.in_channels}x{p.image_size}x{p.image_size}"
        )
    data = getattr(bundle, split)
    count = min(count, len(data))
    return torch.stack([data[i][0] for i in range(count)]), name


def model_data(
    model: SNASNet, dataset: str | None, data_dir: str | os.PathLike | None, trained: dict | None = None
) -> DataBundle:
    """The dataset ``check_images`` takes images from (see there), loaded as the checkpoint was trained on it."""
    trained = trained or {}
    name = dataset or trained.get("dataset") or model.preset.name
    data_dir = data_dir if data_dir is not None else trained.get("data_dir")
    p = model.preset
    options = dict(trained.get("dataset_options") or {}) if name == trained.get("dataset") else {}
    if name == "synthetic":
        options = {"in_channels": p.in_channels, "image_size": p.image_size, "num_classes": p.num_classes, **options}
    try:
        return get_dataset(name, data_dir, model_timesteps=model.timesteps, **options)
    except DataError as exc:
        raise DataError(f"{exc} (or check on random images: --dataset synthetic)") from None


def input_metadata(
    model: SNASNet, dataset: str | None, data_dir: str | os.PathLike | None, trained: dict | None = None
) -> dict[str, str]:
    """What an exported model's user needs to feed it: the dataset, its classes and its preprocessing (the
    ONNX file's metadata). Where the data cannot be read (``--check-images 0`` without it), the dataset's name."""
    trained = trained or {}
    name = dataset or trained.get("dataset") or model.preset.name
    try:
        bundle = model_data(model, dataset, data_dir, trained)
    except DataError:
        return {"dataset": name, "classes": str(model.preset.num_classes), "preprocessing": "unknown: no data"}
    return {"dataset": bundle.name, "classes": str(bundle.num_classes), **(bundle.preprocessing or {})}


def _check_output(output: str | os.PathLike | None, name: str = "", folder: bool = False) -> None:
    """Refuse an output of the wrong kind before any run directory or file is made, so nothing is left."""
    if output is None:
        return
    path = Path(output)
    if not folder and path.is_dir():
        raise StorageError(f"{path} is a directory: give -o a file to write in it, e.g. {path / name}")
    if folder and path.exists() and not path.is_dir():
        raise StorageError(f"{path} is a file: give -o a folder for the energy report")
    if not folder:
        output_target(path)  # a device, a FIFO, a socket or a dangling link there is refused, not replaced


def _open_run(fmt: str, source: ExportSource, model: SNASNet, run_dir, config: dict, say: Say) -> RunDir:
    """The export's run directory; its configuration (run.json, config.yaml) holds every setting of the job, by
    the names of ``snasnet export FORMAT``'s options, so that ``--config RUN_DIR/config.yaml`` repeats it."""
    config = {"format": fmt, **source.settings(), **config}
    run = RunDir.create("export", config, run_dir, arch=str(model.arch), celltype=model.arch.celltype,
                        source_run=RunDir.source_run_of(source.checkpoint))  # fmt: skip
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
    from exporters.memory import check_batch_fits
    from exporters.onnx import check_onnx, check_opset, export_onnx

    check_opset(opset, exporter)
    model = source.load(dataset)
    if batch is not None:
        check_batch_fits(model, batch)  # before the run directory: a refusal, not a failed run
    trained = source.trained_on()
    batch_images, data_name = (
        check_images(model, dataset, data_dir, images, trained=trained) if images else (None, None)
    )
    _check_output(output, "model.onnx")
    config = {"mode": mode, "batch": batch or "dynamic", "opset": opset, "exporter": exporter,
              "spike_counts": spike_counts, "timesteps": model.timesteps, "dataset": dataset,
              "data_dir": data_dir, "images": images}  # fmt: skip
    run = _open_run("onnx", source, model, run_dir, config, say)
    path = Path(output) if output is not None else run.path / "model.onnx"
    with run.job(job="export", format="onnx", checkpoint=str(source.checkpoint)):
        say(f"exporting {model.arch} ({model.arch.celltype}, {model.preset.name}, T={model.timesteps}) ...")
        # the data is loaded again (check_images' copy is gone): for digits or CIFAR, well under a second
        graph = export_onnx(model, path, mode=mode, opset=opset, batch=batch, spike_counts=spike_counts,
                            exporter=exporter, metadata=input_metadata(model, dataset, data_dir, trained))  # fmt: skip
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
    from snasnet.core.device import resolve_device

    get_profile(profile)  # an unknown profile is refused before any work
    check_at_most("--batch-size", batch_size, MAX_BATCH_SIZE)
    _check_output(output, folder=True)
    model = source.load(dataset)
    images, data_name = check_images(model, dataset, data_dir, batches * batch_size, trained=source.trained_on())
    model = model.to(resolve_device(device))
    config = {"profile": profile, "batches": batches, "batch_size": batch_size, "dataset": data_name,
              "data_dir": data_dir, "count_unused_feedback": count_unused_feedback, "device": device}  # fmt: skip
    run = _open_run("energy", source, model, run_dir, config, say)
    folder = Path(output) if output is not None else run.path
    with run.job(job="export", format="energy", checkpoint=str(source.checkpoint)):
        say(f"measuring spikes on {len(images)} {data_name} images ...")
        loader = DataLoader(images, batch_size=batch_size)
        counts = count_operations(model, loader, count_unused_feedback=count_unused_feedback)
        report = energy_report(model, counts, profile)
        json_path, csv_path, png_path = (folder / name for name in ("energy.json", "energy.csv", "energy.png"))
        # one product: a stop leaves the three files all new or all as they were
        with atomic_paths(json_path, csv_path, png_path) as (json_tmp, csv_tmp, png_tmp):
            report.write_json(json_tmp)
            report.write_csv(csv_tmp)
            write_energy_chart(report, png_tmp)
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
    importers: list[str] | None = None,
    run_dir: str | os.PathLike | None = None,
    say: Say = _quiet,
) -> ExportResult:
    """Write one timestep as NIR, read it back with ``nir.read`` (the round trip a NIR tool sees), and run it
    for T steps on ``images`` test images (0: no check) in nirtorch (always: the reference reading) and in
    each of ``importers`` (default: every one installed that can load the file, the others listed as not
    applicable; ``exporters.nir_importers``), against PyTorch.
    ``figures["importers"]`` holds one row per importer. The check fails when nirtorch, or an importer
    named in ``importers``, does not load the file or does not reproduce PyTorch."""
    import nir

    from exporters.nir import export_nir
    from exporters.nir_importers import IMPORTERS, check_importers, installed_importers
    from exporters.parity import torch_scores

    chosen = ["nirtorch"] + [
        n for n in (importers if importers is not None else installed_importers()) if n != "nirtorch"
    ]
    for name in chosen:
        IMPORTERS.get(name)  # an unknown name is refused before any work
    _check_output(output, "model.nir")
    model = source.load(dataset)
    trained = source.trained_on()
    batch_images, data_name = (
        check_images(model, dataset, data_dir, images, trained=trained) if images else (None, None)
    )
    config = {"dt": dt, "timesteps": model.timesteps, "importers": importers, "dataset": dataset, "data_dir": data_dir,
              "images": images}  # fmt: skip
    run = _open_run("nir", source, model, run_dir, config, say)
    path = Path(output) if output is not None else run.path / "model.nir"
    with run.job(job="export", format="nir", checkpoint=str(source.checkpoint)):
        export_nir(model, path, dt=dt)
        graph = nir.read(path)
        figures = {"nodes": len(graph.nodes), "edges": len(graph.edges), "read_back": True,
                   "recurrent_edges": graph.metadata.get("recurrent_edges")}  # fmt: skip
        parity, failed = None, []
        if batch_images is not None:
            say(f"running {model.timesteps} steps in {', '.join(chosen)} on {len(batch_images)} {data_name} images")
            # by default, importers that cannot load the file are listed as not applicable, not run to fail
            checks = check_importers(chosen, graph, batch_images, torch_scores(model, batch_images),
                                     model.timesteps, dt, run_all=importers is not None)  # fmt: skip
            parity = checks[0].parity
            failed = [c for c in checks if not c.passed and (c.importer == "nirtorch" or importers is not None)]
            figures.update(parity=None if parity is None else parity.to_dict(), dataset=data_name,
                           images=len(batch_images), importers=[c.to_dict() for c in checks])  # fmt: skip
        run.emit("export_finished", format="nir", path=path, dt=dt, timesteps=model.timesteps, **figures)
        result = ExportResult(run.path, path, figures, graph, parity)
        if failed:
            detail = "; ".join(f"{c.importer}: {c.error or c.parity.summary()}" for c in failed)
            raise CheckFailed(f"the NIR file does not reproduce PyTorch in {detail}", result)
    return result

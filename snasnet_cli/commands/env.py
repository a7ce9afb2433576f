"""`snasnet env`: the environment report to paste into a bug report (``exporters.environment``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from snasnet_cli.options import DataDirOption


def env(
    data_dir: DataDirOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """The environment for a bug report: versions, CPU, GPUs, spikingjelly's CUDA backends, datasets found.

    Paste its output into the issue (or [bold]--json[/bold] for machines).
    """
    from exporters.environment import environment

    report = environment(data_dir)
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return
    typer.echo("\n".join(format_environment(report)))  # plain lines: they paste into an issue as they are


def _version(value: str | None) -> str:
    return value or "not installed"


def format_environment(report: dict) -> list[str]:
    """The report as ``key: value`` lines."""
    from exporters.environment import SPIKINGJELLY_CHOICE

    packages = report["packages"]
    lines = [f"snasnet: {_version(report['snasnet'])}", f"python: {report['python']}"]
    lines.append(f"platform: {report['platform']}")
    lines += [f"{name}: {_version(version)}" for name, version in packages.items() if name != "snasnet"]
    importers = ", ".join(f"{n} {_version(i['version'])}" for n, i in report["nir_importers"].items())
    lines.append(f"NIR importers: {importers}")
    cpu = report["cpu"]
    lines.append(f"CPU: {cpu['model']} ({cpu['machine']}), instruction set {cpu['capability']} (torch's kernels)")
    threads = f"threads: {cpu['cores']} cores ({cpu['usable_cores']} usable), torch {cpu['torch_threads']} threads"
    variables = " ".join(f"{k}={v}" for k, v in cpu["variables"].items())
    lines.append(threads + f", interop {cpu['interop_threads']}" + (f"; {variables}" if variables else ""))
    cuda = report["cuda"]
    if cuda["devices"]:
        for d in cuda["devices"]:
            lines.append(f"GPU {d['index']}: {d['name']}, {d['memory_gib']} GiB, compute capability {d['capability']}")
    else:
        lines.append("GPU: none usable (torch.cuda.is_available() is False)")
    lines.append(f"CUDA: torch built with {cuda['torch_cuda'] or 'no CUDA'}, cuDNN {cuda['cudnn'] or '-'}")
    sj = report["spikingjelly_cuda"]

    def backend(name: str, info: dict, missing: str = "not installed") -> str:
        present = info.get("version") or ("built" if info.get("built") else None)
        return f"{name} {present or missing}{' (usable)' if info['usable'] else ''}"

    backends = [backend("native ops", sj["native"], "not built"), backend("triton", sj["triton"])]
    backends.append(backend("cupy", sj["cupy"]))
    lines.append(f"spikingjelly CUDA backends: {', '.join(backends)}; {SPIKINGJELLY_CHOICE}={sj['choice']}")
    data = report["data"]
    lines.append(f"data root: {data['root']} (from {data['from']})")
    found = [n for n, d in data["datasets"].items() if d["found"]]
    bundled = [n for n, d in data["datasets"].items() if d["found"] is None]
    root = Path(data["root"])
    missing = [f"{n} ({_under(Path(d['path']), root)})" for n, d in data["datasets"].items() if d["found"] is False]
    lines.append(f"datasets found: {', '.join(found) or 'none'}; needing no files: {', '.join(bundled)}")
    lines.append(f"datasets not found there: {', '.join(missing) or 'none'}")
    return lines


def _under(path: Path, root: Path) -> str:
    return str(path.relative_to(root)) if path.is_relative_to(root) else str(path)

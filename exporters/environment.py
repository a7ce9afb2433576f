"""The environment report: what ``snasnet env`` prints for a bug report (``python -m torch.utils.collect_env``'s
role, for an SNN toolkit): the versions of snasnet and of what it runs on (torch, spikingjelly, tonic) and ships
to (onnx, onnxruntime, nir, nirtorch and each NIR importer ``exporters.nir_importers`` knows), the CPU and the
instruction set torch's kernels use, threads, CUDA GPUs, spikingjelly's CUDA backends, and where datasets were
looked for and which were found. It sits with the exporters because it names their toolchains; it reads package
metadata and asks torch, and imports no importer.

    report = environment()            # a dict of plain data, what `snasnet env --json` prints
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from importlib import metadata
from pathlib import Path

import torch

from exporters.nir_importers import IMPORTERS
from snasnet.data.datasets import DATA_ENV, data_root, find_datasets

#: what a result depends on, in the order printed (the NIR importers follow)
PACKAGES = ("snasnet", "torch", "torchvision", "spikingjelly", "tonic", "onnx", "onnxruntime", "nir", "nirtorch")
#: spikingjelly 2's LIF kernels on CUDA: native ops built with the package, else triton, else torch; this variable
#: chooses (spikingjelly/_ops/lif); spikingjelly before 2.0 used cupy
SPIKINGJELLY_CHOICE = "SJ_LIF_CUDA_IMPLEMENTATION"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "ATEN_CPU_CAPABILITY", "ONEDNN_MAX_CPU_ISA")


def version(package: str) -> str | None:
    """The installed version of distribution ``package`` (None: not installed); nothing is imported."""
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def cpu_model() -> str:
    """The CPU's marketing name (Linux: /proc/cpuinfo), else what the platform module says."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _cpu() -> dict:
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "model": cpu_model(),
        "machine": platform.machine(),
        # the instruction set ATen's kernels were chosen for: float results depend on it (README, Fidelity)
        "capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "torch_threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        "variables": {name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ},
    }


def _cuda() -> dict:
    available = torch.cuda.is_available()
    devices = []
    for index in range(torch.cuda.device_count() if available else 0):
        props = torch.cuda.get_device_properties(index)
        devices.append(
            {
                "index": index,
                "name": props.name,
                "memory_gib": round(props.total_memory / 2**30, 1),
                "capability": f"{props.major}.{props.minor}",
            }
        )
    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"available": available, "torch_cuda": torch.version.cuda, "cudnn": cudnn, "devices": devices}


def _spikingjelly_backends(cuda: bool) -> dict:
    """Whether each of spikingjelly's CUDA backends could run here: installed (built) and a CUDA GPU present."""
    try:
        native = importlib.util.find_spec("spikingjelly._ops.lif._C") is not None
    except ImportError:  # no spikingjelly, or one without spikingjelly 2's operator packages
        native = False
    triton, cupy = version("triton"), version("cupy") or version("cupy-cuda12x") or version("cupy-cuda11x")
    return {
        "choice": os.environ.get(SPIKINGJELLY_CHOICE, "auto"),
        "native": {"built": native, "usable": native and cuda},
        "triton": {"version": triton, "usable": triton is not None and cuda},
        "cupy": {"version": cupy, "usable": cupy is not None and cuda},
    }


def _data(data_dir: str | os.PathLike | None) -> dict:
    source = "--data-dir" if data_dir is not None else f"${DATA_ENV}" if os.environ.get(DATA_ENV) else "./data"
    return {"root": str(data_root(data_dir).resolve()), "from": source, "datasets": find_datasets(data_dir)}


def environment(data_dir: str | os.PathLike | None = None) -> dict:
    """The facts a bug report needs, as plain data (``snasnet env --json``): ``snasnet``, ``python``,
    ``platform``, ``packages`` (name -> version, None when not installed), ``nir_importers`` (name ->
    ``{package, version}``), ``cpu``, ``cuda``, ``spikingjelly_cuda`` (its backends: installed, usable) and
    ``data`` (the root datasets are read from, where each was looked for and whether it was found)."""
    cuda = _cuda()
    importers = {name: IMPORTERS.get(name).package for name in IMPORTERS.names()}
    return {
        "snasnet": version("snasnet"),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "platform": platform.platform(),
        "executable": sys.executable,
        "packages": {name: version(name) for name in PACKAGES},
        "nir_importers": {name: {"package": pkg, "version": version(pkg)} for name, pkg in importers.items()},
        "cpu": _cpu(),
        "cuda": cuda,
        "spikingjelly_cuda": _spikingjelly_backends(cuda["available"]),
        "data": _data(data_dir),
    }

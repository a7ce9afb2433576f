"""Whether a graph of a fixed batch can run here: the activations of one image over T steps, times the batch,
against the memory this machine has free.

The count is every layer output of one image over the T steps, kept at once (float32), plus the image: an upper
bound on what onnxruntime or a tracing exporter holds, which reuse buffers between layers.
"""

from __future__ import annotations

import os

import torch

from snasnet.core.errors import ConfigError
from snasnet.network.model import SNASNet

FLOAT_BYTES = 4


def activation_bytes_per_image(model: SNASNet) -> int:
    """Bytes of every leaf module's outputs for one image over ``model.timesteps`` steps, plus the image."""
    p = model.preset
    image = torch.zeros(1, p.in_channels, p.image_size, p.image_size, device=next(model.parameters()).device)
    total = [image.numel()]

    def count(module: torch.nn.Module, inputs: object, output: object) -> None:
        if isinstance(output, torch.Tensor):
            total[0] += output.numel()

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(count) for m in leaves]
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(image)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total[0] * FLOAT_BYTES


def available_memory() -> int:
    """Bytes this machine can give a process now: MemAvailable of /proc/meminfo, else all physical memory."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB"


def check_batch_fits(model: SNASNet, batch: int, available: int | None = None) -> None:
    """Refuse, naming the largest batch that fits, a fixed ``batch`` whose activations exceed ``available``
    bytes (default: ``available_memory()``)."""
    per_image = activation_bytes_per_image(model)
    available = available_memory() if available is None else available
    if batch * per_image <= available:
        return
    fits = available // per_image
    raise ConfigError(
        f"--batch {batch} needs about {_gib(batch * per_image)} for its activations ({per_image / 2**20:.2f} MiB "
        f"per image over T={model.timesteps}) and {_gib(available)} is available: the largest batch that fits is "
        f"{fits} (or give --batch dynamic)"
    )

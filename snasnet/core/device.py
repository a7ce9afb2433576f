"""Which device a job runs on (CUDA when present or asked for, CPU otherwise), and putting images there."""

from __future__ import annotations

import torch

from snasnet.core.errors import ConfigError


def resolve_device(name: str | torch.device = "auto") -> torch.device:
    """``auto`` (CUDA if available, else CPU), ``cpu``, ``cuda`` or ``cuda:N``; a clear error for a device this
    machine does not have."""
    if isinstance(name, torch.device):
        return name
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"unknown device {name!r}: use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device {name!r} was asked for, but this machine has no usable CUDA GPU: use --device cpu"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    elif device.type != "cpu":
        raise ConfigError(f"device {name!r} is not supported: use auto, cpu, cuda or cuda:N")
    return device


def to_device(images: torch.Tensor, device: torch.device, channels_last: bool) -> torch.Tensor:
    """``images`` on ``device`` (without waiting for the copy), channels-last when asked."""
    images = images.to(device, non_blocking=True)
    return images.contiguous(memory_format=torch.channels_last) if channels_last else images

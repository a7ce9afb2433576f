"""Test helpers: weights that make every LIF layer fire, so comparisons are not vacuous."""

from __future__ import annotations

import torch
from torch import nn


def lively_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """Overwrite every weight so that spikes flow through all layers (freshly initialised SNASNets are
    nearly silent at the output: the original's linear init is N(0, 0.01))."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if not p.is_floating_point():
                continue
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "weight" and p.dim() >= 2:
                gain = 2.5 if p.dim() == 4 else 12.0
                p.copy_(torch.randn(p.shape, generator=g) * gain / p[0].numel() ** 0.5)
            elif leaf in ("weight", "running_var"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) * 0.2)
    return model


def run_cli(capsys, *args: object) -> tuple[int, str, str]:  # noqa: ANN001 (pytest's capsys)
    """``snasnet ARGS`` through the real entry point in this process (one-line errors included): exit code,
    stdout, stderr."""
    from snasnet_cli.app import main

    try:
        main([str(a) for a in args])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err

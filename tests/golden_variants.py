"""The golden network and wrong ones, with the golden weights, and their outputs on the golden images, in this
process or in a fresh one with the portable environment.

The wrong networks show that the golden rule bites: each is the golden network with one mistake a
reimplementation could make, loaded with the same weights.

    python tests/golden_variants.py OUT.pt golden:reference golden:fast tau-1.33:fast ...

writes ``{"golden:reference": logits, ...}`` to OUT.pt; ``portable_outputs`` runs that under the portable
environment, which must be set before torch is imported.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import golden_weights
import torch
from golden_data import GOLDEN, GOLDEN_ARCH, golden_images

from snasnet.network.arch import backward_slots
from snasnet.network.model import SNASNet, build_model

#: the golden cell's feedback edge node 2 -> node 0 moved to node 3 -> node 1 (a pair the cell leaves free),
#: with the same weights
WRONG_FEEDBACK_ARCH = "0302 0030 0003 0300"


def _golden_state_dict() -> dict[str, torch.Tensor]:
    layout = json.loads((GOLDEN / "cifar100_bw.layout.json").read_text())
    return golden_weights.make_state_dict(layout)


def _moved_feedback(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    slot = {edge: i for i, edge in enumerate(backward_slots())}
    old, new = f"cell_architecture_back.{slot[(2, 0)]}.", f"cell_architecture_back.{slot[(3, 1)]}."
    return {key.replace(old, new): value for key, value in state_dict.items()}


#: name -> (architecture, build_model options, how the golden weights map onto it)
VARIANTS: dict[str, tuple[str, dict, Callable[[dict], dict]]] = {
    "golden": (GOLDEN_ARCH, {}, dict),
    "feedback-to-wrong-node": (WRONG_FEEDBACK_ARCH, {}, _moved_feedback),
    "tau-1.33": (GOLDEN_ARCH, {"tau": 1.33}, dict),
    "soft-reset": (GOLDEN_ARCH, {"v_reset": None}, dict),
}
MUTANTS = [name for name in VARIANTS if name != "golden"]


def build_variant(name: str) -> SNASNet:
    arch, options, weights = VARIANTS[name]
    model = build_model("cifar100", arch, celltype="backward", **options)
    model.load_state_dict(weights(_golden_state_dict()), strict=True)
    return model.eval()


def variant_outputs(jobs: list[str]) -> dict[str, torch.Tensor]:
    """``"variant:path"`` -> the variant's logits on the golden images on that execution path."""
    images = golden_images()
    outputs = {}
    for job in jobs:
        name, path = job.split(":")
        with torch.no_grad():
            outputs[job] = build_variant(name)(images, path=path)
    return outputs


def portable_outputs(env: dict[str, str], job_groups: list[list[str]]) -> dict[str, torch.Tensor]:
    """``variant_outputs`` of each group in its own process under ``env``, the processes side by side (one
    thread each: the portable mode's)."""
    with tempfile.TemporaryDirectory() as tmp:
        runs = []
        for i, jobs in enumerate(job_groups):
            out = Path(tmp) / f"{i}.pt"
            cmd = [sys.executable, str(Path(__file__).resolve()), str(out), *jobs]
            runs.append((out, subprocess.Popen(cmd, env={**os.environ, **env}, stderr=subprocess.PIPE, text=True)))
        outputs = {}
        for out, process in runs:
            _, stderr = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"the portable run failed:\n{stderr[-3000:]}")
            outputs.update(torch.load(out, weights_only=True))
    return outputs


if __name__ == "__main__":
    torch.save(variant_outputs(sys.argv[2:]), sys.argv[1])

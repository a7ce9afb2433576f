"""How the batch norms of a network compute their statistics in training: one table (``--norm``), recorded in
the model's config, its checkpoints and run.json.

In evaluation every option is the same: each batch norm is one per-channel affine from its running statistics,
shared by all timesteps, so every export folds it (``exporters/folding.py``) and every exporter works alike.
They differ in what training normalises with, and so in how far evaluation's transform is training's:

- ``step``: each timestep with that step's own batch statistics (the original's); the running statistics average
  the steps. Training and evaluation agree when the steps look alike (a static image fed at every step: the
  default for static presets, bit-identical to the original). On event frames, whose steps differ, evaluation's
  one affine fits no step, and accuracy swings between epochs.
- ``joint``: the statistics of all T x B samples at once (tdBN, Zheng et al. 2021) where a layer runs over all T
  at once (the stem on frames, the layers between the cells, the classifier's inputs, every edge of a forward
  cell); inside a backward cell, whose feedback makes each step wait for the one before, as ``running``. The
  reference path (every layer once per step) cannot compute joint statistics, and refuses to train.
- ``running``: every batch norm normalises with its running statistics in training too (they pool each forward
  pass's T x B statistics; the gradient is batch normalisation's through each step's statistics, batch
  renormalisation): evaluation's transform is training's, on either path.

Options with statistics or scales per timestep (BNTT, TEBN) are not offered: a NIR graph and a one-step ONNX
model have no timestep-dependent parameters, so the exports could not hold them.

This module imports no torch (the command line lists the names cheaply); each builder imports its layer when called.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from snasnet.core.registry import Registry

if TYPE_CHECKING:
    from torch import nn

#: where a batch norm sits: in a layer that the fast path runs over all T at once, or in a backward cell (step by
#: step, as its feedback requires)
SEQUENCE, FEEDBACK = "sequence", "feedback"


@dataclass(frozen=True)
class Normalisation:
    name: str
    summary: str  # one line: what training normalises with
    build: Callable[[int, str], nn.Module]  # (channels, SEQUENCE or FEEDBACK) -> the batch norm
    #: the reference path can train with it (it runs every layer once per step)
    reference_trains: bool = True


def _step(channels: int, where: str) -> nn.Module:
    from torch import nn

    return nn.BatchNorm2d(channels)


def _joint(channels: int, where: str) -> nn.Module:
    from snasnet.network.sequence import JointBatchNorm2d, RunningBatchNorm2d

    return JointBatchNorm2d(channels) if where == SEQUENCE else RunningBatchNorm2d(channels)


def _running(channels: int, where: str) -> nn.Module:
    from snasnet.network.sequence import RunningBatchNorm2d

    return RunningBatchNorm2d(channels)


NORMS: Registry[Normalisation] = Registry("normalisation")
STEP = NORMS.add(
    "step", Normalisation("step", "each timestep with its own batch statistics (the original's)", _step)
).name
JOINT = NORMS.add(
    "joint",
    Normalisation(
        "joint",
        "all timesteps' batch statistics at once (tdBN); inside backward cells, as running",
        _joint,
        reference_trains=False,
    ),
).name
RUNNING = NORMS.add(
    "running",
    Normalisation("running", "the running statistics, pooled over timesteps, as in evaluation", _running),
).name

#: the normalisation of a network unless told otherwise, by its input kind (``Preset.input``). Static images keep
#: the original's; frames: measured by benchmarks/feedback_on_events.py (README's event-data section)
DEFAULT_NORMS = {"static": STEP, "frames": RUNNING}


def norm_for_input(input_kind: str) -> str:
    """The default normalisation of a network fed ``input_kind`` (a preset's ``input``: static or frames)."""
    return DEFAULT_NORMS[input_kind]

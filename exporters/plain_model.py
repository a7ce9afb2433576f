"""SNASNet in plain torch operations, its state held in explicit tensors: what the ONNX exporter traces.

spikingjelly's LIF keeps its membrane inside the module and runs a custom operator (``torch.ops.sj_lif``)
that exporters cannot translate, and the model's cells keep their feedback in Python lists. This module
computes the same network from the same weights with a LIF written as tensor arithmetic (a comparison for
the Heaviside step) and every membrane and feedback value passed in and out, so a trace sees all of it:

- ``forward(images)``: all T steps unrolled, class scores averaged over T (the model's eval output);
- ``step(static, state)``: one timestep from an explicit state, returning the new state.

With ``fold=True`` batch norms after convolutions and the output group average are folded into the
weights (exact up to float rounding); with ``fold=False`` every layer is the model's own, and the outputs
are the model's bit for bit (a test checks), which separates structural errors from rounding.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import nn

from exporters.folding import fold_conv_bn, fold_group_average
from snasnet.network.arch import NUM_NODES
from snasnet.network.cells import BackwardCell, Cell
from snasnet.network.model import SNASNet
from snasnet.network.neuron import LIFConfig, charge, fire_and_reset
from snasnet.network.ops import AVGPOOL, is_spiking

State = dict[str, torch.Tensor | None]


@dataclass(frozen=True)
class LIFParams:
    """The model's LIF settings, and its update as tensor arithmetic that a trace sees: the same functions
    as the model's kernels (``snasnet.network.neuron.charge`` and ``fire_and_reset``)."""

    tau: float
    threshold: float
    v_reset: float | None

    @classmethod
    def of(cls, config: LIFConfig) -> LIFParams:
        return cls(config.tau, config.threshold, config.v_reset)

    @property
    def rest(self) -> float:
        """The membrane at rest (every forward pass starts there)."""
        return 0.0 if self.v_reset is None else self.v_reset

    def step(self, x: torch.Tensor, v: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: ``(spikes, new membrane)``. ``v=None`` is the state at rest, which needs fewer ops
        (and rounds exactly like spikingjelly's first step)."""
        _, spike, v_new = fire_and_reset(charge(x, v, self.tau, self.rest), self.threshold, self.v_reset)
        return spike, v_new


def membrane_key(lif_name: str) -> str:
    return f"v.{lif_name}"


def feedback_key(cell: str, node: int) -> str:
    return f"fb.{cell}.{node}"


class _Edge(nn.Module):
    """One non-zero cell edge: skip, avgpool, or LIF -> conv -> BN (folded or not)."""

    def __init__(self, code: int, op: nn.Module, lif_name: str | None, fold: bool) -> None:
        super().__init__()
        self.code, self.lif_name = code, lif_name
        if is_spiking(code):  # LIF -> conv -> BN
            self.op = fold_conv_bn(op[1], op[2]) if fold else copy.deepcopy(nn.Sequential(op[1], op[2]))
        elif code == AVGPOOL:
            self.op = copy.deepcopy(op)
        else:
            self.op = nn.Identity()

    def run(self, x: torch.Tensor, net: PlainSNASNet, state: State, spikes: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.lif_name is not None:
            x = net.lif(self.lif_name, x, state, spikes)
        return self.op(x)


class _PlainCell(nn.Module):
    """A cell's step (the model's fast path: zero edges skipped, sums left to right, feedback added to a
    node's value before its out-edges use it)."""

    def __init__(self, cell: Cell, name: str, names: dict[nn.Module, str], fold: bool) -> None:
        super().__init__()
        self.name, self.arch = name, cell.arch
        self.backward = isinstance(cell, BackwardCell)
        self.edges = nn.ModuleDict()
        for src, dst, code in ((e.src, e.dst, e.op) for e in cell.arch.edges()):
            op = cell.backward_edge(src, dst) if src > dst else cell.forward_edge(src, dst)
            lif = names[op[0]] if is_spiking(code) else None
            self.edges[f"{src}_{dst}"] = _Edge(code, op, lif, fold)
        #: nodes that receive feedback (the state a step hands to the next)
        fed_back = [c for c in range(NUM_NODES - 1) if any(cell.arch.op(r, c) for r in range(c + 1, NUM_NODES))]
        self.feedback_nodes = fed_back if self.backward else []

    def _sum(
        self, pairs: Iterator[tuple[int, int]], inputs: list[torch.Tensor], net, state, spikes
    ) -> torch.Tensor | None:
        total = None
        for src, dst in pairs:
            if self.arch.op(src, dst):
                y = self.edges[f"{src}_{dst}"].run(inputs[src], net, state, spikes)
                total = y if total is None else total + y
        return total

    def step(
        self, x0: torch.Tensor, net: PlainSNASNet, state: State, spikes: dict[str, torch.Tensor], feedback: bool
    ) -> torch.Tensor:
        inputs: list[torch.Tensor] = []
        for c in range(NUM_NODES):
            value = x0 if c == 0 else self._sum(((r, c) for r in range(c)), inputs, net, state, spikes)
            if value is None:  # only zero edges arrive: the original's value is 0
                value = torch.zeros_like(x0)
            fb = state.get(feedback_key(self.name, c)) if c < NUM_NODES - 1 else None
            inputs.append(value if fb is None else value + fb)
        for c in self.feedback_nodes:
            new = self._sum(((r, c) for r in range(c + 1, NUM_NODES)), inputs, net, state, spikes) if feedback else None
            state[feedback_key(self.name, c)] = new
        return inputs[-1]


class PlainSNASNet(nn.Module):
    """The network of ``model`` (eval mode) in plain torch ops with explicit state.

    ``state`` maps ``v.<LIF layer>`` (membranes) and ``fb.<cell>.<node>`` (a backward cell's feedback into
    a node) to tensors; ``None`` is the state at rest. ``state_keys()`` lists them in a fixed order.
    """

    def __init__(self, model: SNASNet, fold: bool = True) -> None:
        super().__init__()
        names = {m: n for n, m in model.named_modules()}
        self.fold = fold
        self.timesteps = model.timesteps
        self.frames = model.preset.takes_frames  # input [B, T, C, H, W], the stem at every step
        self.lif_params = LIFParams.of(model.lif)
        self.lif_names = [name for name, _ in model.lif_layers()]
        stem = model.stem
        self.stem = fold_conv_bn(stem[0], stem[1]) if fold else copy.deepcopy(stem)
        self.cell1 = _PlainCell(model.cell1, "cell1", names, fold)
        down = model.downconv1
        self.down_bn, self.down_lif = copy.deepcopy(down[0]), names[down[1]]
        self.down_conv = fold_conv_bn(down[2], down[3]) if fold else copy.deepcopy(nn.Sequential(down[2], down[3]))
        self.pool1 = copy.deepcopy(model.resdownsample1)
        self.cell2 = _PlainCell(model.cell2, "cell2", names, fold)
        self.last_bn, self.last_lif = copy.deepcopy(model.last_act[0]), names[model.last_act[1]]
        self.pool2 = copy.deepcopy(model.resdownsample2)
        fc = model.classifier
        self.fc1, self.fc_lif = copy.deepcopy(fc[1]), names[fc[2]]
        clusters = model.preset.num_clusters
        if fold:
            self.fc2, self.boost = fold_group_average(fc[3], clusters), None
        else:
            self.fc2, self.boost = copy.deepcopy(fc[3]), copy.deepcopy(model.boost)
        self.eval()

    # --- state ----------------------------------------------------------------------------------
    def lif(self, name: str, x: torch.Tensor, state: State, spikes: dict[str, torch.Tensor]) -> torch.Tensor:
        key = membrane_key(name)
        spike, state[key] = self.lif_params.step(x, state.get(key))
        count = spike.flatten(1).sum(1)
        spikes[name] = count if name not in spikes else spikes[name] + count
        return spike

    def state_keys(self) -> list[str]:
        """Membranes in ``model.lif_layers()`` order, then the feedback of cell 1 and cell 2."""
        keys = [membrane_key(n) for n in self.lif_names]
        for cell in (self.cell1, self.cell2):
            keys += [feedback_key(cell.name, c) for c in cell.feedback_nodes]
        return keys

    def initial_state(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        """The state at rest as tensors, for a batch shaped like ``images`` (membranes at rest, feedback 0)."""
        with torch.no_grad():
            state: State = {}
            self.step(self.stem(images), state, feedback=True)
        rest = self.lif_params.rest
        return {key: torch.full_like(state[key], rest if key.startswith("v.") else 0.0) for key in self.state_keys()}

    # --- computation ----------------------------------------------------------------------------
    def step(
        self, static: torch.Tensor, state: State, feedback: bool = True
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """One timestep from the stem's output ``static``; updates ``state`` in place. Returns the class
        scores of this step (not yet averaged over T) and the spikes per image of each LIF layer."""
        spikes: dict[str, torch.Tensor] = {}
        x = self.cell1.step(static, self, state, spikes, feedback)
        x = self.down_conv(self.lif(self.down_lif, self.down_bn(x), state, spikes))
        x = self.cell2.step(self.pool1(x), self, state, spikes, feedback)
        x = self.pool2(self.lif(self.last_lif, self.last_bn(x), state, spikes))
        x = self.lif(self.fc_lif, self.fc1(x.flatten(1)), state, spikes)
        x = self.fc2(x)
        scores = x if self.boost is None else self.boost(x.unsqueeze(1)).squeeze(1)
        return scores, spikes

    def run(self, images: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """All T steps from rest: class scores averaged over T and spikes per image summed over T. As on the
        model's fast path in eval mode, the last step's feedback (which no output uses) is not computed.
        Event frames ``[B, T, C, H, W]``: the stem on each step's frame."""
        static = None if self.frames else self.stem(images)  # the static image, encoded once
        state: State = {}
        total: dict[str, torch.Tensor] = {}
        acc = None
        for t in range(self.timesteps):
            encoded = self.stem(images[:, t]) if self.frames else static
            scores, spikes = self.step(encoded, state, feedback=t < self.timesteps - 1)
            acc = scores if acc is None else acc + scores
            for name, count in spikes.items():
                total[name] = count if name not in total else total[name] + count
        return acc / self.timesteps, {name: total[name] for name in self.lif_names if name in total}

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.run(images)[0]

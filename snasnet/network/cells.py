"""The two SNASNet cells. Module names (``cell_architecture``, ``cell_architecture_back``) and their order
are the original's, so its checkpoints load unchanged.

Each cell runs two ways:
- ``step(x0)``: one timestep in the original's order, every edge included (zero edges multiply by 0);
- ``run(x0, timesteps)``: all T steps, the fast path: zero edges skipped; a forward cell (no feedback)
  runs every edge over all steps at once; a backward cell goes step by step, as its feedback requires.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from snasnet.network.arch import NUM_NODES, Architecture, backward_slots, forward_slots
from snasnet.network.neuron import LIFConfig
from snasnet.network.ops import AVGPOOL, SKIP, ZERO, build_op
from snasnet.network.sequence import run_seq, seq_map


class Cell(nn.Module):
    """Shared structure: one module per forward edge, in the original's order."""

    def __init__(
        self, arch: Architecture, channels: int, lif: LIFConfig, norm: Callable[[int], nn.Module] | None = None
    ) -> None:
        """``norm`` builds each edge's batch norm from its channels (default ``nn.BatchNorm2d``)."""
        super().__init__()
        self.arch = arch
        self.channels = channels
        self.cell_architecture = nn.ModuleList(build_op(arch.op(r, c), channels, lif, norm) for r, c in forward_slots())
        self._fwd = {slot: i for i, slot in enumerate(forward_slots())}

    def forward_edge(self, src: int, dst: int) -> nn.Module:
        return self.cell_architecture[self._fwd[(src, dst)]]

    def reset_state(self) -> None:
        """Forget the feedback of the previous sample (the LIF layers are reset by the model)."""

    def step(self, x0: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def run(self, x0: torch.Tensor, timesteps: int, static: bool, keep_last_feedback: bool) -> torch.Tensor:
        raise NotImplementedError


def _accumulate(total: torch.Tensor | None, y: torch.Tensor) -> torch.Tensor:
    # Left to right, as the original's `a + b + c`, so sums round the same way.
    return y if total is None else total + y


class ForwardCell(Cell):
    """x1 = e01(x0); x2 = e02(x0) + e12(x1); x3 = e03(x0) + e13(x1) + e23(x2)."""

    def step(self, x0: torch.Tensor) -> torch.Tensor:
        x: list[torch.Tensor] = [x0]
        for c in range(1, NUM_NODES):
            total = None
            for r in range(c):
                total = _accumulate(total, self.forward_edge(r, c)(x[r]))
            x.append(total)
        return x[-1]

    def run(self, x0: torch.Tensor, timesteps: int, static: bool, keep_last_feedback: bool = True) -> torch.Tensor:
        """All steps at once. ``static``: x0 is one ``[B, ...]`` tensor fed at every step (the stem output),
        otherwise ``[T, B, ...]``. Parameter-free edges of a static value are computed once."""
        values: list[tuple[torch.Tensor, bool]] = [(x0, static)]
        for c in range(1, NUM_NODES):
            total, total_static = None, True
            for r in range(c):
                code = self.arch.op(r, c)
                if code == ZERO:
                    continue
                y, y_static = self._apply_edge(self.forward_edge(r, c), code, *values[r], timesteps)
                total = _accumulate(total, y)  # a static [B, ...] broadcasts against [T, B, ...]
                total_static = total_static and y_static
            if total is None:  # only zero edges arrive here: the original's value is 0
                total, total_static = torch.zeros_like(x0 if static else x0[0]), True
            values.append((total, total_static))
        out, out_static = values[-1]
        return out.expand(timesteps, *out.shape) if out_static else out

    @staticmethod
    def _apply_edge(
        op: nn.Module, code: int, x: torch.Tensor, static: bool, timesteps: int
    ) -> tuple[torch.Tensor, bool]:
        if code == SKIP:
            return x, static
        if code == AVGPOOL:
            return (op(x), True) if static else (seq_map(op, x), False)
        # a LIF integrates even a constant input over time, so a static value becomes a sequence
        x_seq = x.expand(timesteps, *x.shape) if static else x
        return run_seq(op, x_seq), False


class BackwardCell(Cell):
    """Forward edges within a step plus backward edges that feed each node's input at the next step:
    x1 = e01(x0 + b0); x2 = e02(x0 + b0) + e12(x1 + b1); x3 = e03(x0 + b0) + e13(x1 + b1) + e23(x2 + b2);
    then b0 = e10(x1 + b1) + e20(x2 + b2) + e30(x3); b1 = e21(x2 + b2) + e31(x3); b2 = e32(x3)."""

    def __init__(
        self, arch: Architecture, channels: int, lif: LIFConfig, norm: Callable[[int], nn.Module] | None = None
    ) -> None:
        super().__init__(arch, channels, lif, norm)
        self.cell_architecture_back = nn.ModuleList(
            build_op(arch.op(r, c), channels, lif, norm) for r, c in backward_slots()
        )
        self._bwd = {slot: i for i, slot in enumerate(backward_slots())}
        self._feedback: list[torch.Tensor | None] = [None] * (NUM_NODES - 1)

    def backward_edge(self, src: int, dst: int) -> nn.Module:
        return self.cell_architecture_back[self._bwd[(src, dst)]]

    def reset_state(self) -> None:
        self._feedback = [None] * (NUM_NODES - 1)

    def step(self, x0: torch.Tensor) -> torch.Tensor:
        fb = [0.0 if b is None else b for b in self._feedback]  # the original starts from the float 0.
        x: list[torch.Tensor] = [x0]
        for c in range(1, NUM_NODES):
            total = None
            for r in range(c):
                total = _accumulate(total, self.forward_edge(r, c)(x[r] + fb[r]))
            x.append(total)
        inputs = [x[r] + fb[r] for r in range(NUM_NODES - 1)] + [x[-1]]
        self._feedback = [self._sum_back(c, inputs, skip_zero=False) for c in range(NUM_NODES - 1)]
        return x[-1]

    def _sum_back(self, c: int, inputs: list[torch.Tensor], skip_zero: bool) -> torch.Tensor | None:
        total = None
        for r in range(c + 1, NUM_NODES):
            if skip_zero and self.arch.op(r, c) == ZERO:
                continue
            total = _accumulate(total, self.backward_edge(r, c)(inputs[r]))
        return total

    def run(self, x0: torch.Tensor, timesteps: int, static: bool, keep_last_feedback: bool = True) -> torch.Tensor:
        """Step by step (the feedback makes step t depend on step t-1), zero edges skipped. Without
        ``keep_last_feedback`` the feedback of the last step, which no output uses, is not computed
        (the model allows that in eval mode, where it changes no state that matters)."""
        outputs = []
        for t in range(timesteps):
            need_feedback = keep_last_feedback or t < timesteps - 1
            outputs.append(self._fast_step(x0 if static else x0[t], need_feedback))
        return torch.stack(outputs)

    def _fast_step(self, x0: torch.Tensor, need_feedback: bool) -> torch.Tensor:
        fb = self._feedback
        inputs: list[torch.Tensor] = []
        for c in range(NUM_NODES):
            if c == 0:
                value = x0
            else:
                value = None
                for r in range(c):
                    if self.arch.op(r, c) != ZERO:
                        value = _accumulate(value, self.forward_edge(r, c)(inputs[r]))
                if value is None:
                    value = torch.zeros_like(x0)
            inputs.append(value if c == NUM_NODES - 1 or fb[c] is None else value + fb[c])
        if need_feedback:
            self._feedback = [self._sum_back(c, inputs, skip_zero=True) for c in range(NUM_NODES - 1)]
        return inputs[-1]

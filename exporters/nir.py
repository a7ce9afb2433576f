"""NIR export of an SNASNet: one timestep as a graph of NIR primitives (package ``nir``), written to HDF5.

What the file holds (node names carry a running number so that their alphabetical order, which is the
order ``nir.read`` returns, is the network's forward order; tools that cut cycles by order need it):

- ``Conv2d`` for the stem, the cells' convolutions and ``downconv1``, each with its batch norm folded in;
- ``LIF`` neurons with NIR's continuous-time parameters for the discrete LIF of the model:
  ``tau = tau_steps * dt``, ``r = 1``, ``v_leak = v_reset``, ``v_threshold``, ``v_reset`` (forward Euler
  with step ``dt`` gives back ``h = v + (x - (v - v_reset)) / tau_steps``; ``dt`` is in the metadata).
  A batch norm before a LIF (``downconv1``, ``last_act``) cannot fold into a convolution, but it folds
  exactly into the neuron: ``r`` becomes its per-channel scale and ``v_leak`` its shift (per neuron arrays);
- ``Scale`` (by ones) for each cell node, the point where edges sum; a skip edge is a plain NIR edge;
- ``AvgPool2d`` for avgpool edges and the two downsamplings, ``Flatten``, ``Linear`` and ``Affine`` for
  the classifier, the output group average folded into the last ``Affine`` (an exact linear map);
- backward cell edges as **recurrent edges** into their destination node: they close cycles, and the
  discrete-time reading of a cycle (nirtorch's) gives them the one-step delay of the model's feedback.

What NIR cannot express, and how the file handles it (also written into the graph's metadata):

- the **average over T** of the class scores: NIR graphs have no notion of a readout over a run. The
  ``Affine`` output gives each step's class scores; the prediction is their mean over ``timesteps``.
- the **static stem computed once**: a NIR graph is one step, so the stem is a ``Conv2d`` that runs every
  step on the same image (same result; its MACs repeat). Feed the image at every step.
- the **one-step delay of backward edges** is implicit (a cycle), not an explicit ``Delay`` node: no NIR
  simulator we know runs ``Delay``, and nirtorch already delays a cycle by one step (a ``Delay`` would
  delay twice). The recurrent edges are listed in the metadata.
- the **spike condition**: NIR fires when ``v > v_threshold``, the model when ``h >= threshold``. Membranes
  do land exactly on the threshold (the golden weights show it), so the file's ``v_threshold`` is the
  model's threshold less one float32 step: in float32, ``v > that`` is exactly ``v >= threshold``.
- a soft reset (``v_reset=None``) has no NIR LIF; exporting such a model is refused.
- edges that feed nothing the output depends on (dead ends) are left out and listed in the metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
from torch import nn

from exporters.folding import bn_affine, fold_conv_bn, fold_group_average
from snasnet.arch import NUM_NODES
from snasnet.cells import Cell
from snasnet.errors import ConfigError
from snasnet.model import SNASNet
from snasnet.ops import AVGPOOL, SKIP, is_spiking

#: seconds per timestep written into the file: the NIR tools' common default, so an importer that
#: assumes it recovers tau = 4/3 steps
DEFAULT_DT = 1e-4


def _np(t) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float32)


def _just_below(threshold: float) -> np.float32:
    """The float32 just below ``threshold``: NIR's ``v > it`` is the model's ``v >= threshold`` in float32."""
    return np.nextafter(np.float32(threshold), np.float32(-np.inf))


class _Builder:
    """Nodes named ``n<index>_<label>`` in creation order, and edges."""

    def __init__(self) -> None:
        self.nodes: dict = {}
        self.edges: list[tuple[str, str]] = []

    def add(self, label: str, node) -> str:
        name = f"n{len(self.nodes):03d}_{label}"
        self.nodes[name] = node
        return name

    def connect(self, src: str, dst: str) -> None:
        self.edges.append((src, dst))


class _NetworkGraph:
    """Builds the NIR graph of one timestep of ``model``."""

    def __init__(self, model: SNASNet, dt: float) -> None:
        import nir

        self.nir, self.model, self.dt = nir, model, dt
        if model.lif.v_reset is None:
            raise ConfigError("NIR's LIF has a hard reset only: a model with soft reset (v_reset None) cannot export")
        self.b = _Builder()
        self.recurrent: list[str] = []

    def lif(self, label: str, shape: tuple[int, ...], bn: nn.BatchNorm2d | None = None) -> str:
        lif = self.model.lif
        ones = np.ones(shape, dtype=np.float32)
        r, leak = ones, np.zeros(shape, dtype=np.float32)
        if bn is not None:  # the batch norm before the neuron: its scale is the input's gain, its shift a leak
            scale, shift = bn_affine(bn)
            r = np.broadcast_to(_np(scale)[:, None, None], shape).astype(np.float32)
            leak = np.broadcast_to(_np(shift)[:, None, None], shape).astype(np.float32)
        return self.b.add(
            label,
            self.nir.LIF(
                tau=ones * np.float32(lif.tau * self.dt),
                r=r,
                v_leak=leak + np.float32(lif.v_reset),
                v_threshold=ones * _just_below(lif.threshold),
                v_reset=ones * np.float32(lif.v_reset),
            ),
        )

    def conv(self, label: str, conv: nn.Conv2d, bn: nn.BatchNorm2d, size: int) -> str:
        folded = fold_conv_bn(conv, bn)
        return self.b.add(
            label,
            self.nir.Conv2d(
                input_shape=(size, size),
                weight=_np(folded.weight),
                stride=tuple(folded.stride),
                padding=tuple(folded.padding),
                dilation=tuple(folded.dilation),
                groups=folded.groups,
                bias=_np(folded.bias),
            ),
        )

    def avgpool(self, label: str, kernel: int, stride: int, padding: int) -> str:
        return self.b.add(
            label,
            self.nir.AvgPool2d(
                kernel_size=np.array([kernel] * 2), stride=np.array([stride] * 2), padding=np.array([padding] * 2)
            ),
        )

    def cell(self, cell: Cell, prefix: str, x: str, channels: int, size: int) -> str:
        """The cell's nodes and edges; returns its output node. Created in forward order: each node after
        the edges into it, backward edges last (they close the cycles)."""
        arch, shape = cell.arch, (channels, size, size)
        fed = {c for c in range(NUM_NODES) if c == 0 or any(arch.op(r, c) for r in range(NUM_NODES) if r != c)}
        node: dict[int, str] = {}
        edges_out: dict[int, list[tuple[str, int]]] = {c: [] for c in range(NUM_NODES)}

        def edge(src: int, dst: int) -> None:
            code = arch.op(src, dst)
            if src not in fed:
                if is_spiking(code):
                    raise ConfigError(
                        f"{prefix} node {src} has no incoming edge but feeds a convolution (a constant NIR cannot "
                        f"express): export the pruned cell ({arch.pruned()}) instead"
                    )
                return  # a zero value through a skip or avgpool adds nothing
            label = f"{prefix}_e{src}{dst}"
            if code == SKIP:
                out = node[src]
            elif code == AVGPOOL:
                out = self.avgpool(f"{label}_avgpool", 3, 1, 1)
                self.b.connect(node[src], out)
            else:
                op = cell.backward_edge(src, dst) if src > dst else cell.forward_edge(src, dst)
                lif = self.lif(f"{label}_lif", shape)
                self.b.connect(node[src], lif)
                out = self.conv(f"{label}_conv", op[1], op[2], size)
                self.b.connect(lif, out)
            edges_out[dst].append((out, src))

        for c in range(NUM_NODES):
            for r in range(c):
                if arch.op(r, c):
                    edge(r, c)
            if c in fed:
                node[c] = self.b.add(f"{prefix}_node{c}", self.nir.Scale(scale=np.ones(shape, dtype=np.float32)))
                for out, _ in edges_out[c]:
                    self.b.connect(out, node[c])
                if c == 0:
                    self.b.connect(x, node[c])
        for c in range(NUM_NODES - 1):
            for r in range(c + 1, NUM_NODES):
                if arch.op(r, c):
                    before = len(edges_out[c])
                    edge(r, c)
                    for out, _ in edges_out[c][before:]:
                        self.b.connect(out, node[c])
                        self.recurrent.append(f"{out} -> {node[c]}")
        return node[NUM_NODES - 1]

    def build(self):
        nir, m, p = self.nir, self.model, self.model.preset
        c1, c2 = p.channels, 2 * p.channels
        s1 = (p.image_size + 2 - 3) // p.stem_stride + 1
        s2, s3 = s1 // 2, s1 // 2 // m.second_avgpooling
        inp = "input"
        self.b.nodes[inp] = nir.Input(input_type=np.array([p.in_channels, p.image_size, p.image_size]))
        x = self.conv("stem", m.stem[0], m.stem[1], p.image_size)
        self.b.connect(inp, x)
        x = self.cell(m.cell1, "cell1", x, c1, s1)
        down = m.downconv1
        lif = self.lif("downconv1_lif", (c1, s1, s1), bn=down[0])
        self.b.connect(x, lif)
        x = self.conv("downconv1_conv", down[2], down[3], s1)
        self.b.connect(lif, x)
        pool = self.avgpool("pool1", 2, 2, 0)
        self.b.connect(x, pool)
        x = self.cell(m.cell2, "cell2", pool, c2, s2)
        lif = self.lif("last_act_lif", (c2, s2, s2), bn=m.last_act[0])
        self.b.connect(x, lif)
        k = m.second_avgpooling
        pool = self.avgpool("pool2", k, k, 0)
        self.b.connect(lif, pool)
        flat = self.b.add("flatten", nir.Flatten(input_type={"input": np.array([c2, s3, s3])}, start_dim=0))
        self.b.connect(pool, flat)
        fc1 = self.b.add("classifier_fc1", nir.Linear(weight=_np(m.classifier[1].weight)))
        self.b.connect(flat, fc1)
        lif = self.lif("classifier_lif", (p.classifier_width,))
        self.b.connect(fc1, lif)
        fc2 = fold_group_average(m.classifier[3], p.num_clusters)
        out = self.b.add("classifier_scores", nir.Affine(weight=_np(fc2.weight), bias=_np(fc2.bias)))
        self.b.connect(lif, out)
        self.b.nodes["output"] = nir.Output(output_type=np.array([p.num_classes]))
        self.b.connect(out, "output")
        dropped = self._drop_dead_ends()
        return nir.NIRGraph(nodes=self.b.nodes, edges=self.b.edges, metadata=self._metadata(dropped))

    def _drop_dead_ends(self) -> list[str]:
        """Remove the nodes from which the output cannot be reached (NIR would make each an output)."""
        reaches = {"output"}
        changed = True
        while changed:
            changed = False
            for src, dst in self.b.edges:
                if dst in reaches and src not in reaches:
                    reaches.add(src)
                    changed = True
        dropped = [n for n in self.b.nodes if n not in reaches]
        for name in dropped:
            del self.b.nodes[name]
        self.b.edges = [(s, d) for s, d in self.b.edges if s in reaches and d in reaches]
        self.recurrent = [e for e in self.recurrent if all(part in reaches for part in e.split(" -> "))]
        return dropped

    def _metadata(self, dropped: list[str]) -> dict:
        m = self.model
        return {
            "producer": "snasnet",
            "arch": str(m.arch),
            "celltype": m.arch.celltype,
            "preset": m.preset.name,
            "dt": self.dt,
            "timesteps": m.timesteps,
            "recurrent_edges": json.dumps(self.recurrent),
            "recurrent_semantics": "a recurrent edge carries its source's value of the previous step (0 at step 0)",
            "input": "the same image at every step (direct encoding); the stem runs every step",
            "output": f"class scores of one step; the prediction is their mean over the {m.timesteps} steps",
            "lif_discretisation": "forward Euler with step dt: v += (v_leak - v + r * I) * dt / tau",
            "spike_condition": "NIR fires when v > v_threshold; v_threshold is the model's threshold less one "
            "float32 step, so that this is the model's v >= threshold",
            "threshold": m.lif.threshold,
            "dropped_dead_ends": json.dumps(dropped),
        }


def to_nir(model: SNASNet, dt: float = DEFAULT_DT):
    """The NIR graph (``nir.NIRGraph``) of one timestep of ``model``, in eval mode."""
    if dt <= 0:
        raise ConfigError(f"dt must be positive (got {dt})")
    return _NetworkGraph(model, dt).build()


def export_nir(model: SNASNet, path: str | os.PathLike, dt: float = DEFAULT_DT) -> Path:
    """Write ``to_nir(model)`` to ``path`` (HDF5, via ``nir.write``), atomically."""
    import nir

    graph = to_nir(model, dt)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        nir.write(tmp, graph)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path

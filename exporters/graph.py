"""One timestep of an SNASNet as a graph of plain operations: the one description exporters write out.

The walk reads the model's own structure: the top-level layers in the order ``SNASNet.forward`` runs them
(``LAYERS``), each ``nn.Sequential`` layer by layer, and each cell through its ``Architecture.edges()`` and
``Cell.forward_edge`` / ``Cell.backward_edge``. What comes out:

- **nodes** (``GraphNode``): ``input``, ``conv`` (a batch norm after it folded in), ``channel_affine`` (a
  batch norm before a LIF: per-channel ``scale`` and ``shift``), ``lif``, ``avgpool``, ``identity`` (a
  backward skip edge: its own node, so that its one-step delay has a place), ``flatten``, ``linear`` (the
  output group average folded into the last one) and ``output``;
- **edges** (``GraphEdge``): every edge into a node adds to its input. A cell node is no node but the set of
  nodes whose outputs sum into it, and each consumer of the cell node gets an edge from each of them; only a
  cell node that backward edges feed is an ``identity`` node (``_Walk.cell`` says why). An edge is ``delayed``
  when it carries its source's value of the previous step (0 at step 0), which is what a backward edge does.

``nodes`` come in an execution order: every same-step edge goes forward in it and every delayed edge goes back
(from a later node to an earlier one), so a simulator that runs the nodes in this order and reads a not yet
computed input as last step's value computes the model. Nodes that feed nothing the output depends on (dead
ends) are left out and named in ``dropped``.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import torch
from spikingjelly.activation_based import layer as sj_layer
from spikingjelly.activation_based import neuron
from torch import nn

from exporters.folding import bn_affine, fold_conv_bn, fold_group_average
from snasnet.core.errors import ConfigError
from snasnet.network.arch import NUM_NODES, Edge
from snasnet.network.cells import Cell
from snasnet.network.model import SNASNet
from snasnet.network.ops import SKIP, is_spiking

#: the model's top-level layers in the order ``SNASNet.forward`` runs them each step (``None``: flatten)
LAYERS = (
    "stem",
    "cell1",
    "downconv1",
    "resdownsample1",
    "cell2",
    "last_act",
    "resdownsample2",
    None,
    "classifier",
    "boost",
)


@dataclass(frozen=True)
class GraphNode:
    name: str
    kind: str
    #: the node's output shape, without the batch dimension
    shape: tuple[int, ...]
    #: the operation's numbers: tensors (weight, bias, scale, shift) and plain values
    params: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GraphEdge:
    src: str
    dst: str
    #: carries the source's value of the previous step (0 at step 0)
    delayed: bool = False


@dataclass
class NetworkGraph:
    nodes: list[GraphNode]
    edges: list[GraphEdge]
    dropped: list[str] = field(default_factory=list)

    def node(self, name: str) -> GraphNode:
        return next(n for n in self.nodes if n.name == name)

    def inputs_of(self, name: str) -> list[GraphEdge]:
        return [e for e in self.edges if e.dst == name]

    @property
    def delayed_edges(self) -> list[GraphEdge]:
        return [e for e in self.edges if e.delayed]


#: a value that sums into a cell node: the node that computes it, and whether it arrives a step late
Source = tuple[str, bool]


def _out_size(size: int, kernel: int, stride: int, padding: int, dilation: int = 1) -> int:
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def _pair(value) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


class _Walk:
    def __init__(self, model: SNASNet) -> None:
        if model.lif.v_reset is None:
            raise ConfigError("NIR's LIF has a hard reset only: a model with soft reset (v_reset None) cannot export")
        self.model = model
        self.nodes: dict[str, GraphNode] = {}
        self.edges: list[GraphEdge] = []

    # --- building blocks -----------------------------------------------------------------------
    def add(self, name: str, kind: str, shape: tuple[int, ...], inputs: list[Source], **params) -> str:
        self.nodes[name] = GraphNode(name, kind, tuple(shape), params)
        self.connect(inputs, name)
        return name

    def connect(self, inputs: list[Source], dst: str) -> None:
        self.edges.extend(GraphEdge(src, dst, delayed) for src, delayed in inputs)

    def chain(self, module: nn.Module, label: str, inputs: list[Source], shape: tuple[int, ...]):
        """The nodes of one layer or ``nn.Sequential`` (eval mode), fed by ``inputs``, named after the module's
        path (``classifier_1_linear`` is ``classifier[1]``); returns the sources of its output (``inputs``
        themselves for a layer that passes its input on) and the output shape."""
        layers = list(module.named_children()) if isinstance(module, nn.Sequential) else [("", module)]
        i = 0
        while i < len(layers):
            (child, layer), after = layers[i], layers[i + 1][1] if i + 1 < len(layers) else None
            handler = next((h for kind, h in _LAYER_HANDLERS if isinstance(layer, kind)), None)
            if handler is None:
                raise ConfigError(f"{label}: the graph export does not know the layer {type(layer).__name__}")
            step = handler(self, f"{label}_{child}_" if child else f"{label}_", layer, after, inputs, shape)
            if step.node is not None:
                inputs, shape = [(step.node, False)], step.shape
            i += 1 + step.took_next
        return inputs, shape

    # --- the cell ------------------------------------------------------------------------------
    def cell(self, cell: Cell, prefix: str, x: list[Source], shape: tuple[int, ...]) -> list[Source]:
        """The cell's nodes; returns the sources of its output node.

        A cell node is no node of its own: it is the list of the sources that sum into it, and each consumer
        gets an edge from each. The exception is a node that backward edges feed: there the values of the
        previous step join, and a one-step-late edge has to close a cycle to be read as one (nirtorch's
        reading of NIR's recurrent edges), which an edge into a consumer off the cycle would not; so such a
        node is an ``identity`` node (``<cell>_node<c>``) that sums the node's inputs. A backward edge's own
        nodes are created first (their output is late, so its consumers need not wait) and fed last."""
        arch = cell.arch
        sources: dict[int, list[Source]] = {c: [] for c in range(NUM_NODES)}
        sources[0] = list(x)
        feedback: dict[int, list[Source]] = {c: [] for c in range(NUM_NODES)}
        backward: list[tuple[Edge, str]] = []  # each backward edge and its first node
        for edge in (e for e in arch.edges() if e.backward):
            label = f"{prefix}_e{edge.src}{edge.dst}"
            if edge.op == SKIP:  # a skip: the identity, as a node of its own so that its delay has a place
                first = last = self.add(f"{label}_identity", "identity", shape, [])
            else:
                before = set(self.nodes)
                [(last, _)], _ = self.chain(cell.backward_edge(edge.src, edge.dst), label, [], shape)
                first = next(n for n in self.nodes if n not in before)
            backward.append((edge, first))
            feedback[edge.dst].append((last, True))
        for c in range(NUM_NODES):
            for edge in (e for e in arch.edges() if not e.backward and e.dst == c):
                self._check_fed(prefix, edge, sources)
                if edge.op == SKIP:
                    sources[c].extend(sources[edge.src])  # a skip passes its sources on: no node
                elif sources[edge.src]:
                    out, _ = self.chain(
                        cell.forward_edge(edge.src, c), f"{prefix}_e{edge.src}{c}", sources[edge.src], shape
                    )
                    sources[c].extend(out)
            if feedback[c]:
                sources[c] = [(self.add(f"{prefix}_node{c}", "identity", shape, sources[c] + feedback[c]), False)]
        for edge, first in backward:
            self._check_fed(prefix, edge, sources)
            self.connect(sources[edge.src], first)
        return sources[NUM_NODES - 1]

    def _check_fed(self, prefix: str, edge: Edge, sources: dict[int, list[Source]]) -> None:
        if not sources[edge.src] and is_spiking(edge.op):
            raise ConfigError(
                f"{prefix} node {edge.src} has no incoming edge but feeds a convolution (a constant the graph cannot "
                f"express): export the pruned cell ({self.model.arch.pruned()}) instead"
            )

    # --- the network ---------------------------------------------------------------------------
    def build(self) -> NetworkGraph:
        m, p = self.model, self.model.preset
        shape: tuple[int, ...] = (p.in_channels, p.image_size, p.image_size)
        x: list[Source] = [(self.add("input", "input", shape, []), False)]
        for name in LAYERS:
            if name is None:
                flat = (int(torch.tensor(shape).prod()),)
                x, shape = [(self.add("flatten", "flatten", flat, x, input_shape=shape), False)], flat
                continue
            module = getattr(m, name)
            if isinstance(module, Cell):
                x = self.cell(module, name, x, shape)
            elif name == "boost":
                continue  # folded into the classifier's last linear layer
            elif name == "classifier":
                x, shape = self.chain(nn.Sequential(*module, m.boost), name, x, shape)
            else:
                x, shape = self.chain(module, name, x, shape)
        self.add("output", "output", shape, x)
        dropped = self._drop_dead_ends()
        return NetworkGraph(self._execution_order(), self.edges, dropped)

    def _drop_dead_ends(self) -> list[str]:
        reaches, changed = {"output"}, True
        while changed:
            changed = False
            for e in self.edges:
                if e.dst in reaches and e.src not in reaches:
                    reaches.add(e.src)
                    changed = True
        dropped = [n for n in self.nodes if n not in reaches]
        self.nodes = {k: v for k, v in self.nodes.items() if k in reaches}
        self.edges = [e for e in self.edges if e.src in reaches and e.dst in reaches]
        return dropped

    def _execution_order(self) -> list[GraphNode]:
        """Same-step edges forward, delayed edges backward; ties in creation order (Kahn's algorithm)."""
        index = {name: i for i, name in enumerate(self.nodes)}
        after: dict[str, set[str]] = {n: set() for n in self.nodes}
        for e in self.edges:
            before, later = (e.dst, e.src) if e.delayed else (e.src, e.dst)
            if before != later:
                after[before].add(later)
        waiting = {n: 0 for n in self.nodes}
        for targets in after.values():
            for t in targets:
                waiting[t] += 1
        ready = [(index[n], n) for n, count in waiting.items() if count == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, name = heapq.heappop(ready)
            order.append(name)
            for t in after[name]:
                waiting[t] -= 1
                if waiting[t] == 0:
                    heapq.heappush(ready, (index[t], t))
        # a delayed edge ends in an identity node and starts at a node with no same-step output: never a loop
        assert len(order) == len(self.nodes), "the same-step edges form a cycle"
        return [self.nodes[n] for n in order]


@dataclass(frozen=True)
class _Step:
    node: str | None  # None: the layer passes its input on
    shape: tuple[int, ...]
    took_next: bool = False  # the next layer was folded into this one


def _conv(walk: _Walk, name, conv: nn.Conv2d, after, inputs, shape) -> _Step:
    folded = isinstance(after, nn.BatchNorm2d)
    if folded:
        conv = fold_conv_bn(conv, after)
    (kh, kw), (sh, sw), (ph, pw) = _pair(conv.kernel_size), _pair(conv.stride), _pair(conv.padding)
    out = (conv.out_channels, _out_size(shape[1], kh, sh, ph), _out_size(shape[2], kw, sw, pw))
    bias = conv.bias if conv.bias is not None else torch.zeros(conv.out_channels)
    node = walk.add(f"{name}conv", "conv", out, inputs, weight=conv.weight.detach(), bias=bias.detach(),
                    stride=(sh, sw), padding=(ph, pw), input_size=shape[1:])  # fmt: skip
    return _Step(node, out, folded)


def _batch_norm(walk: _Walk, name, bn: nn.BatchNorm2d, after, inputs, shape) -> _Step:
    """A batch norm that follows no convolution (before a LIF, after a sum of edges): per-channel affine."""
    scale, shift = bn_affine(bn)
    return _Step(walk.add(f"{name}bn", "channel_affine", shape, inputs, scale=scale, shift=shift), shape)


def _lif(walk: _Walk, name, lif: neuron.LIFNode, after, inputs, shape) -> _Step:
    if lif.v_reset is None or not lif.decay_input:
        raise ConfigError(f"{name}lif: NIR's LIF has a hard reset and a decaying input only")
    node = walk.add(f"{name}lif", "lif", shape, inputs, tau=float(lif.tau), threshold=float(lif.v_threshold),
                    v_reset=float(lif.v_reset))  # fmt: skip
    return _Step(node, shape)


def _avgpool(walk: _Walk, name, pool: nn.AvgPool2d, after, inputs, shape) -> _Step:
    k, s, p = (_pair(v)[0] for v in (pool.kernel_size, pool.stride or pool.kernel_size, pool.padding))
    out = (shape[0], _out_size(shape[1], k, s, p), _out_size(shape[2], k, s, p))
    node = walk.add(f"{name}avgpool", "avgpool", out, inputs, kernel=k, stride=s, padding=p, input_size=shape[1:])
    return _Step(node, out)


def _linear(walk: _Walk, name, linear: nn.Linear, after, inputs, shape) -> _Step:
    grouped = isinstance(after, nn.AvgPool1d)
    if grouped:  # the output group average: a linear map, folded in
        linear = fold_group_average(linear, _pair(after.kernel_size)[0])
    bias = None if linear.bias is None else linear.bias.detach()
    out = (linear.out_features,)
    return _Step(walk.add(f"{name}linear", "linear", out, inputs, weight=linear.weight.detach(), bias=bias), out,
                 grouped)  # fmt: skip


def _passes_input_on(walk: _Walk, name, layer, after, inputs, shape) -> _Step:
    return _Step(None, shape)  # identity; dropout in eval mode


#: layer class -> how it becomes graph nodes, tried in order
_LAYER_HANDLERS = (
    (nn.Conv2d, _conv),
    (nn.BatchNorm2d, _batch_norm),
    (neuron.LIFNode, _lif),
    (nn.AvgPool2d, _avgpool),
    (nn.Linear, _linear),
    ((nn.Identity, nn.Dropout, sj_layer.Dropout), _passes_input_on),
)


def network_graph(model: SNASNet) -> NetworkGraph:
    """The graph of one timestep of ``model`` (eval mode: batch norms use their running statistics)."""
    return _Walk(model).build()

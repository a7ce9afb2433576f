"""NIR export of an SNASNet: one timestep as a graph of NIR primitives (package ``nir``), written to HDF5.

A thin writer over ``exporters.graph.network_graph`` (the one description of the network), laid out by
``exporters.nir_layout`` for readers that run the nodes depth-first (Norse): each graph node becomes one NIR
node, named ``n<index>_<node>`` so that the alphabetical order, which ``nir.read`` returns and importers run,
is the execution order; each graph edge becomes one NIR edge, each node's edge to the next node listed
first, so that the depth-first preorder from the input is that order too. What the file holds:

- ``Conv2d`` for the stem, the cells' convolutions and ``downconv1``, each with its batch norm folded in;
- a batch norm before a LIF (``downconv1``, ``last_act``) as a 1x1 ``Conv2d`` with its scales on the
  diagonal (exact: the other weights are 0). Importers want a LIF's parameters uniform (snnTorch,
  spikingjelly) and spikingjelly has no grouped convolution, so neither a per-neuron LIF nor a depthwise
  convolution would load;
- ``LIF`` neurons with NIR's continuous-time parameters for the discrete LIF of the model:
  ``tau = tau_steps * dt``, ``r = 1``, ``v_leak = v_reset``, ``v_threshold``, ``v_reset`` (forward Euler
  with step ``dt`` gives back ``h = v + (x - (v - v_reset)) / tau_steps``; ``dt`` is in the metadata);
- no junction nodes: every edge into a node adds to its input, as NIR defines, and a skip edge is the
  edges of its sources. Only in a backward cell, a cell node that feedback enters is an identity 1x1
  ``Conv2d`` (see ``exporters.graph``), and so is a backward skip edge;
- avgpool edges and the two downsamplings as fixed ``Conv2d`` nodes (weight 1/k^2 on each channel's own
  k x k window, 0 across channels): Norse maps no ``AvgPool2d``, and every importer maps ``Conv2d``;
- ``zero`` nodes (``<node>_wait``): 1x1 ``Conv2d`` with zero weights and bias from the node before to a node
  that starts another branch; they add exactly 0 and make a depth-first reader run every node after its
  inputs (``exporters.nir_layout``);
- ``Flatten``, ``Linear`` and ``Affine`` for the classifier, the output group average folded into the last
  ``Affine`` (an exact linear map);
- backward cell edges as **recurrent edges**: an edge from a later node to an earlier one closes a cycle,
  and the discrete-time reading of a cycle (nirtorch's, which snnTorch and spikingjelly use, and
  ``nirtorch.load``'s, which Norse uses) gives it the one-step delay of the model's feedback. They are listed
  in the metadata.

What NIR cannot express, and how the file handles it (also written into the graph's metadata):

- the **average over T** of the class scores: NIR graphs have no notion of a readout over a run. The
  ``Affine`` output gives each step's class scores; the prediction is their mean over ``timesteps``.
- the **static stem computed once**: a NIR graph is one step, so the stem is a ``Conv2d`` that runs every
  step on the same image (same result; its MACs repeat). Feed the image at every step.
- the **one-step delay of backward edges** is implicit (a cycle), not an explicit ``Delay`` node: no NIR
  simulator we know runs ``Delay``, and nirtorch already delays a cycle by one step (a ``Delay`` would
  delay twice). A backward edge that closes no cycle (a pure delay) cannot be written and is refused.
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
import torch

from exporters.graph import GraphNode, NetworkGraph, network_graph
from exporters.nir_layout import depth_first_layout
from snasnet.core.atomic import atomic_path
from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry
from snasnet.network.model import SNASNet

#: seconds per timestep written into the file: the NIR tools' common default (snnTorch assumes it), so an
#: importer that assumes it recovers tau = 4/3 steps
DEFAULT_DT = 1e-4


def _np(t) -> np.ndarray:
    return (t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)).astype(np.float32)


def _just_below(threshold: float) -> np.float32:
    """The float32 just below ``threshold``: NIR's ``v > it`` is the model's ``v >= threshold`` in float32."""
    return np.nextafter(np.float32(threshold), np.float32(-np.inf))


def _diagonal_conv(nir, scale: np.ndarray, shift: np.ndarray, shape: tuple[int, ...]):
    """A 1x1 convolution computing ``x * scale + shift`` per channel (exactly: the other weights are 0)."""
    channels = len(scale)
    weight = np.zeros((channels, channels, 1, 1), dtype=np.float32)
    weight[np.arange(channels), np.arange(channels), 0, 0] = scale
    return nir.Conv2d(
        input_shape=tuple(shape[1:]),
        weight=weight,
        stride=(1, 1),
        padding=(0, 0),
        dilation=(1, 1),
        groups=1,
        bias=shift.astype(np.float32),
    )


#: graph node kind -> ``writer(nir, node, dt) -> NIR node``
NIR_WRITERS: Registry = Registry("graph node kind")


@NIR_WRITERS.register("input")
def _input(nir, node: GraphNode, dt: float):
    return nir.Input(input_type=np.array(node.shape))


@NIR_WRITERS.register("output")
def _output(nir, node: GraphNode, dt: float):
    return nir.Output(output_type=np.array(node.shape))


@NIR_WRITERS.register("conv")
def _conv(nir, node: GraphNode, dt: float):
    p = node.params
    weight = _np(p["weight"])
    return nir.Conv2d(
        input_shape=tuple(p["input_size"]),
        weight=weight,
        stride=p["stride"],
        padding=p["padding"],
        dilation=(1, 1),
        groups=1,
        bias=_np(p["bias"]),
    )


@NIR_WRITERS.register("channel_affine")
def _channel_affine(nir, node: GraphNode, dt: float):
    return _diagonal_conv(nir, _np(node.params["scale"]), _np(node.params["shift"]), node.shape)


@NIR_WRITERS.register("identity")
def _identity(nir, node: GraphNode, dt: float):
    channels = node.shape[0]
    return _diagonal_conv(nir, np.ones(channels, np.float32), np.zeros(channels, np.float32), node.shape)


@NIR_WRITERS.register("lif")
def _lif(nir, node: GraphNode, dt: float):
    p, ones = node.params, np.ones(node.shape, dtype=np.float32)
    return nir.LIF(
        tau=ones * np.float32(p["tau"] * dt),
        r=ones.copy(),
        v_leak=ones * np.float32(p["v_reset"]),
        v_threshold=ones * _just_below(p["threshold"]),
        v_reset=ones * np.float32(p["v_reset"]),
    )


@NIR_WRITERS.register("avgpool")
def _avgpool(nir, node: GraphNode, dt: float):
    """Average pooling as a fixed convolution: each channel's k x k window weighted 1/k^2 (the model's pools
    count the padding in), nothing across channels. NIR's ``AvgPool2d`` is what Norse maps no module for."""
    p, channels = node.params, node.shape[0]
    weight = np.zeros((channels, channels, p["kernel"], p["kernel"]), dtype=np.float32)
    weight[np.arange(channels), np.arange(channels)] = np.float32(1 / p["kernel"] ** 2)
    return nir.Conv2d(
        input_shape=tuple(p["input_size"]),
        weight=weight,
        stride=(p["stride"],) * 2,
        padding=(p["padding"],) * 2,
        dilation=(1, 1),
        groups=1,
        bias=np.zeros(channels, dtype=np.float32),
    )


@NIR_WRITERS.register("zero")
def _zero(nir, node: GraphNode, dt: float):
    """0 from any input (``exporters.nir_layout``): it orders the nodes for depth-first readers, adds nothing."""
    weight = _np(node.params["weight"])
    if weight.ndim == 2:
        return nir.Linear(weight=weight)
    return nir.Conv2d(
        input_shape=tuple(node.params["input_size"]),
        weight=weight,
        stride=(1, 1),
        padding=(0, 0),
        dilation=(1, 1),
        groups=1,
        bias=np.zeros(weight.shape[0], dtype=np.float32),
    )


@NIR_WRITERS.register("flatten")
def _flatten(nir, node: GraphNode, dt: float):
    # counted from the end: NIR shapes have no batch dimension, torch's do, and importers differ in whether
    # they shift a start_dim of 0 by one (spikingjelly does, snnTorch, Norse and nirtorch do not)
    return nir.Flatten(
        input_type={"input": np.array(node.params["input_shape"])}, start_dim=-len(node.params["input_shape"])
    )


@NIR_WRITERS.register("linear")
def _linear(nir, node: GraphNode, dt: float):
    p = node.params
    if p["bias"] is None:
        return nir.Linear(weight=_np(p["weight"]))
    return nir.Affine(weight=_np(p["weight"]), bias=_np(p["bias"]))


def _check_cycles(graph: NetworkGraph) -> None:
    """What nirtorch's reading of cycles needs: a recurrent edge closes a cycle (else it is read as a
    same-step edge), and no node's only input is a recurrent one (nirtorch then waits for it forever)."""
    after: dict[str, set[str]] = {}
    for e in graph.edges:
        after.setdefault(e.src, set()).add(e.dst)
    for e in graph.delayed_edges:
        seen, todo = set(), [e.dst]
        while todo and e.src not in seen:
            for nxt in after.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        if e.src not in seen:
            raise ConfigError(
                f"the backward edge {e.src} -> {e.dst} is a pure one-step delay (it closes no cycle), which NIR's "
                "recurrent edges cannot express: export a cell whose feedback returns to its source"
            )
    for node in graph.nodes:
        inputs = graph.inputs_of(node.name)
        if len(inputs) == 1 and inputs[0].delayed:
            raise ConfigError(
                f"{node.name} receives feedback only, which nirtorch cannot read (it waits for the value): "
                "export a cell whose fed nodes have a forward input"
            )


def to_nir(model: SNASNet, dt: float = DEFAULT_DT):
    """The NIR graph (``nir.NIRGraph``) of one timestep of ``model``, in eval mode."""
    import nir

    if dt <= 0:
        raise ConfigError(f"dt must be positive (got {dt})")
    graph = network_graph(model)
    _check_cycles(graph)  # before the layout, whose zero nodes would close cycles the model does not have
    graph = depth_first_layout(graph)
    names = {
        n.name: n.name if n.kind in ("input", "output") else f"n{i:03d}_{n.name}" for i, n in enumerate(graph.nodes)
    }
    nodes = {names[n.name]: NIR_WRITERS.get(n.kind)(nir, n, dt) for n in graph.nodes}
    edges = [(names[e.src], names[e.dst]) for e in graph.edges]
    recurrent = [f"{names[e.src]} -> {names[e.dst]}" for e in graph.delayed_edges]
    zeros = [names[n.name] for n in graph.nodes if n.kind == "zero"]
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=_metadata(model, dt, recurrent, zeros, graph.dropped))


def _metadata(model: SNASNet, dt: float, recurrent: list[str], zeros: list[str], dropped: list[str]) -> dict:
    return {
        "producer": "snasnet",
        "arch": str(model.arch),
        "celltype": model.arch.celltype,
        "preset": model.preset.name,
        "dt": dt,
        "timesteps": model.timesteps,
        "recurrent_edges": json.dumps(recurrent),
        "recurrent_semantics": "a recurrent edge (from a later node to an earlier one) carries its source's "
        "value of the previous step (0 at step 0)",
        "input": "frame t of the event frames at step t (counts of OFF and ON events per pixel); the stem runs "
        "every step"
        if model.preset.takes_frames
        else "the same image at every step (direct encoding); the stem runs every step",
        "output": f"class scores of one step; the prediction is their mean over the {model.timesteps} steps",
        "lif_discretisation": "forward Euler with step dt: v += (v_leak - v + r * I) * dt / tau",
        "reset": "hard: after a spike v = v_reset",
        "spike_condition": "NIR fires when v > v_threshold; v_threshold is the model's threshold less one "
        "float32 step, so that this is the model's v >= threshold",
        "threshold": model.lif.threshold,
        "dropped_dead_ends": json.dumps(dropped),
        "zero_nodes": json.dumps(zeros),
        "node_order": "node names sort in execution order, and so does the depth-first preorder from the input "
        "(each node's edge to the next is listed first); zero_nodes output 0 and exist only to give that order",
        "pooling": "average pooling as Conv2d: weight 1/k^2 on each channel's own window, 0 across channels",
    }


def export_nir(model: SNASNet, path: str | os.PathLike, dt: float = DEFAULT_DT) -> Path:
    """Write ``to_nir(model)`` to ``path`` (HDF5, via ``nir.write``), atomically."""
    import nir

    graph = to_nir(model, dt)
    path = Path(path)
    with atomic_path(path) as tmp:
        nir.write(tmp, graph)
    return path

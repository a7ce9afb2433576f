"""A layout of the network graph that a depth-first NIR reader runs in a valid order.

Norse (``norse.torch.from_nir``) and sinabs load NIR with nirtorch's deprecated ``nirtorch.load``, which does
not run the nodes in the file's order: it runs them in depth-first preorder from the input, following each
node's outgoing edges in the order the file lists them (``nirtorch.graph_utils.trace_execution``), and reads
an input that has not run yet at this step as its value of the previous step. Where two branches meet
(``x -> a -> s`` and ``x -> b1 -> b2 -> s``) a preorder reaches ``s`` from the first branch before the other
has run, whatever the edge order: a node's inputs must lie on one depth-first path.

``depth_first_layout`` puts the nodes on one path: it picks an execution order that follows an edge from
each node to the next wherever it can (Kahn's algorithm preferring a successor of the last node), and where
it cannot (the next node starts another branch) it inserts a ``zero`` node: fed by the last node, feeding the
next one, its output is 0 (a 1x1 convolution with zero weights, exact), so it adds nothing and only makes the
next node a child of the last. Each node's edge to the next comes first among its edges, so the preorder
is the execution order: every same-step input runs first, every delayed input (a recurrent edge, which goes
back) comes from the previous step, as the model's feedback does. Readers that run the file's order
(nirtorch's ``nir_to_torch``, snnTorch, spikingjelly) compute the same network: the zero nodes add 0.
"""

from __future__ import annotations

import torch

from exporters.graph import GraphEdge, GraphNode, NetworkGraph
from snasnet.core.errors import ConfigError


def _zero_node(name: str, before: GraphNode, after: GraphNode, graph: NetworkGraph) -> GraphNode:
    """A node computing 0 from ``before``'s output, shaped as ``after``'s input."""
    inputs = graph.inputs_of(after.name)
    shape = graph.node(inputs[0].src).shape
    if len(before.shape) != len(shape) or before.shape[1:] != shape[1:]:
        raise ConfigError(f"no zero node from {before.name} {before.shape} to {after.name}'s input {shape}")
    weight = torch.zeros(shape[0], before.shape[0], *([1, 1] if len(shape) == 3 else []))
    return GraphNode(name, "zero", shape, {"weight": weight, "input_size": before.shape[1:]})


def _path_order(graph: NetworkGraph) -> list[str]:
    """An execution order (same-step edges forward, delayed ones back) that goes from each node to one of
    its successors wherever one is ready; ties in the graph's own order."""
    index = {n.name: i for i, n in enumerate(graph.nodes)}
    after: dict[str, list[str]] = {n: [] for n in index}
    waiting = dict.fromkeys(index, 0)
    for e in graph.edges:
        before, later = (e.dst, e.src) if e.delayed else (e.src, e.dst)
        if before != later and later not in after[before]:
            after[before].append(later)
            waiting[later] += 1
    successors = {n: {e.dst for e in graph.edges if e.src == n and not e.delayed} for n in index}
    ready = {n for n in index if waiting[n] == 0}
    order: list[str] = []
    while ready:
        follows = ready & successors[order[-1]] if order else set()
        name = min(follows or ready, key=index.__getitem__)
        ready.remove(name)
        order.append(name)
        for t in after[name]:
            waiting[t] -= 1
            if waiting[t] == 0:
                ready.add(t)
    assert len(order) == len(index), "the same-step edges form a cycle"
    return order


def depth_first_preorder(edges: list[tuple[str, str]], root: str = "input") -> list[str]:
    """The order ``nirtorch.load`` runs a graph in: its own preorder from ``root``, edges in list order."""
    from nirtorch.graph_utils import trace_execution

    children: dict[str, list[str]] = {}
    for src, dst in edges:
        children.setdefault(src, []).append(dst)
    return trace_execution(root, lambda node: children.get(node, []))


def depth_first_layout(graph: NetworkGraph) -> NetworkGraph:
    """``graph`` with its nodes on one path (zero nodes where a branch starts), in that order, each node's
    edge to the next listed first: its depth-first preorder is its execution order."""
    order = _path_order(graph)
    nodes: list[GraphNode] = []
    chain: list[GraphEdge] = []
    for prev, name in zip([None, *order], order, strict=False):
        node = graph.node(name)
        if prev is not None:
            linked = any(e.src == prev and e.dst == name and not e.delayed for e in graph.edges)
            if linked:
                chain.append(GraphEdge(prev, name))
            else:
                zero = _zero_node(f"{name}_wait", graph.node(prev), node, graph)
                nodes.append(zero)
                chain += [GraphEdge(prev, zero.name), GraphEdge(zero.name, name)]
        nodes.append(node)
    edges = chain + [e for e in graph.edges if e not in chain]
    assert depth_first_preorder([(e.src, e.dst) for e in edges], order[0]) == [n.name for n in nodes]
    return NetworkGraph(nodes, edges, graph.dropped)

"""A cell drawn as text: the four nodes on a line, forward edges as arcs above it, backward edges below.

    ┌─────────────conv1x1─────────────┐
    │                                 ▼
   (0)─conv3x3─▶(1)─conv3x3─▶(2)       (3)
                              ▲         │
                              └╌conv3x3╌┘

Forward edges between neighbours sit on the node line; longer ones get an arc each, one level per arc. Backward
edges (the source's value of step t-1 feeds the destination at step t) are dashed, below the line, with the arrow
at the destination. Pure string work (no terminal, no torch): the search panel shows it, tests read it.
"""

from __future__ import annotations

from snasnet.network.arch import NUM_NODES, Architecture, Edge

GAP = 13  # columns from one node to the next: room for "─conv3x3─▶" between neighbours
WIDTH = GAP * (NUM_NODES - 1) + 3
LEGEND = "─▶ forward   ╌▶ backward (value at t-1)"

_SOLID = {"h": "─", "v": "│"}
_DASHED = {"h": "╌", "v": "╎"}


def _ports(edges: list[Edge], above: bool) -> dict[tuple[Edge, int], int]:
    """The column each arc leaves or enters a node at. A node is 3 columns wide; arcs whose other end lies to the
    right take the right-hand columns, shorter arcs outermost, so that an arc's horizontal never crosses the
    vertical of another arc at the same node."""
    ports: dict[tuple[Edge, int], int] = {}
    for node in range(NUM_NODES):
        x0 = node * GAP
        touching = [e for e in edges if node in (e.src, e.dst)]
        rightward = sorted((e for e in touching if max(e.src, e.dst) > node), key=_span)
        leftward = sorted((e for e in touching if min(e.src, e.dst) < node), key=_span)
        for i, e in enumerate(rightward):
            ports[(e, node)] = x0 + 2 - i
        for i, e in enumerate(leftward):
            ports[(e, node)] = x0 + i
        if len(touching) == 1:  # a lone arc leaves from the middle of the node
            ports[(touching[0], node)] = x0 + 1
    return ports


def _span(e: Edge) -> int:
    return abs(e.src - e.dst)


def _levels(arcs: list[Edge], share_short: bool) -> dict[Edge, int]:
    """Level 1 is nearest the node line. Arcs between neighbours never overlap, so below the line they share a
    level; every longer arc gets a level of its own, shorter arcs nearer the line."""
    levels: dict[Edge, int] = {}
    level = 0
    short = [e for e in arcs if _span(e) == 1]
    if short and share_short:
        level = 1
        levels.update(dict.fromkeys(short, 1))
    for e in sorted((e for e in arcs if _span(e) > 1), key=lambda e: (_span(e), min(e.src, e.dst))):
        level += 1
        levels[e] = level
    return levels


class _Canvas:
    def __init__(self, height: int) -> None:
        self.rows = [[" "] * WIDTH for _ in range(height)]

    def put(self, row: int, col: int, ch: str) -> None:
        old = self.rows[row][col]
        lines = "─│╌╎"
        self.rows[row][col] = "┼" if old in lines and ch in lines and old != ch else ch

    def text(self, row: int, col: int, s: str) -> None:
        for i, ch in enumerate(s):
            self.rows[row][col + i] = ch

    def label(self, row: int, start: int, end: int, label: str) -> None:
        """Write ``label`` on the horizontal ``start..end``, as near its middle as it goes without covering a
        crossing; left out where it does not fit."""
        width = end - start + 1
        middle = start + (width - len(label)) // 2
        for offset in sorted(range(start - middle, end - len(label) + 2 - middle), key=abs):
            col = middle + offset
            if all(self.rows[row][c] in "─╌" for c in range(col - 1, col + len(label) + 1)):
                self.text(row, col, label)
                return

    def lines(self) -> list[str]:
        return ["".join(r).rstrip() for r in self.rows]


def draw_cell(arch: Architecture) -> list[str]:
    """The cell as lines of text, at most ``WIDTH`` columns wide."""
    edges = arch.edges()
    above = [e for e in edges if not e.backward and _span(e) > 1]
    on_line = [e for e in edges if not e.backward and _span(e) == 1]
    below = [e for e in edges if e.backward]
    up_levels = _levels(above, share_short=False)
    down_levels = _levels(below, share_short=True)
    n_up = max(up_levels.values(), default=0)
    n_down = max(down_levels.values(), default=0)
    # each level: its horizontal row, plus one row of vertical stubs next to the node line
    line_row = n_up + (1 if n_up else 0)
    canvas = _Canvas(line_row + 1 + (n_down + 1 if n_down else 0))
    ports = _ports(above, above=True) | _ports(below, above=False)
    removed = set(arch.removed_nodes())

    for node in range(NUM_NODES):
        canvas.text(line_row, node * GAP, f"({node})" if node not in removed else f"[{node}]")
    # verticals first, then horizontals (crossing them), then labels where no vertical crosses
    arcs = [(e, line_row - 1 - up_levels[e], line_row - 1, _SOLID, "▼", "┌┐") for e in above]
    arcs += [(e, line_row + 1 + down_levels[e], line_row + 1, _DASHED, "▲", "└┘") for e in below]
    for e, row, stub_row, style, arrow, _ in arcs:
        step = 1 if row > stub_row else -1
        for col in (ports[(e, e.src)], ports[(e, e.dst)]):
            for r in range(stub_row, row, step):
                canvas.put(r, col, style["v"])
        canvas.put(stub_row, ports[(e, e.dst)], arrow)
    labels = []
    for e, row, _, style, _, corners in arcs:
        left, right = sorted((ports[(e, e.src)], ports[(e, e.dst)]))
        for col in range(left + 1, right):
            canvas.put(row, col, style["h"])
        canvas.text(row, left, corners[0])
        canvas.text(row, right, corners[1])
        labels.append((row, left + 1, right - 1, e.op_name))
    for e in on_line:
        start, end = e.src * GAP + 3, e.dst * GAP - 1
        for col in range(start, end):
            canvas.put(line_row, col, _SOLID["h"])
        canvas.put(line_row, end, "▶")
        labels.append((line_row, start, end - 1, e.op_name))
    for row, start, end, label in labels:
        canvas.label(row, start, end, label)
    return canvas.lines()


def describe_edges(arch: Architecture) -> list[str]:
    """The edges in words, one per line (what the drawing shows, for a narrow screen or a screen reader)."""
    return [f"{e.src} -> {e.dst}  {e.op_name}" + ("  backward (t-1)" if e.backward else "") for e in arch.edges()]

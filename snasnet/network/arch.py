"""SNASNet cell architectures: the 4x4 connection matrix, its notation, validation and canonical form.

A cell has 4 nodes (0 = cell input, 3 = cell output). ``matrix[row][col]`` is the operation on the edge
from node ``row`` to node ``col``: upper triangle (row < col) forward edges, lower triangle (row > col)
backward edges that carry the source node's value of step t-1 into the destination's input at step t.
The original writes a matrix as four rows of digits, ``"0302 0030 3003 0000"``.

This module needs no torch (front ends that only draw cells import it cheaply); ``sample`` imports
torch when called, because the original draws its matrices from torch's generator.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from snasnet.core.errors import ArchitectureError
from snasnet.network.ops import OP_HELP, OP_NAMES, SPIKING_OPS, ZERO  # noqa: F401 (SPIKING_OPS re-exported)

if TYPE_CHECKING:
    import torch

NUM_NODES = 4
INPUT, OUTPUT = 0, NUM_NODES - 1
CELLTYPES = ("forward", "backward")

_EXAMPLE = "0302 0030 3003 0000"
_OP_DIGITS = "".join(str(code) for code in OP_NAMES)

Matrix = tuple[tuple[int, ...], ...]


class Edge(NamedTuple):
    """One non-zero edge of a cell."""

    src: int
    dst: int
    op: int

    @property
    def backward(self) -> bool:
        return self.src > self.dst

    @property
    def op_name(self) -> str:
        return OP_NAMES[self.op]


def forward_slots() -> list[tuple[int, int]]:
    """(row, col) of each forward edge in the original's module order (``cell_architecture[i]``)."""
    return [(row, col) for col in range(1, NUM_NODES) for row in range(col)]


def backward_slots() -> list[tuple[int, int]]:
    """(row, col) of each backward edge in the original's module order (``cell_architecture_back[i]``)."""
    return [(row, col) for col in range(NUM_NODES - 1) for row in range(col + 1, NUM_NODES)]


_EDGE_LAYER = re.compile(r"^(?P<cell>cell\d+)\.cell_architecture(?P<back>_back)?\.(?P<slot>\d+)(\.|$)")


def layer_label(name: str, arch: str | Architecture | None) -> str:
    """A LIF layer's name as a reader of the cell knows it: ``cell1 0->1 conv3x3`` for the module
    ``cell1.cell_architecture.0.0`` (its edge, by the module order of ``forward_slots``), ``cell1 2->0 conv3x3
    feedback`` on a backward edge. Other layers (``downconv1.1``), and any name when ``arch`` (the cell, e.g.
    ``"0302 0030 3003 0000"``) is not known, keep their module path."""
    match = _EDGE_LAYER.match(name)
    if match is None or arch is None:
        return name
    rows = str(arch).split() if isinstance(arch, str) else ["".join(map(str, row)) for row in arch.matrix]
    slots = backward_slots() if match["back"] else forward_slots()
    slot = int(match["slot"])
    if slot >= len(slots) or len(rows) != NUM_NODES or any(len(row) != NUM_NODES for row in rows):
        return name  # not a cell (an event from elsewhere): the module path is still true
    src, dst = slots[slot]
    code = rows[src][dst]
    op = OP_NAMES.get(int(code)) if code.isdigit() else None
    if op is None:
        return name
    return f"{match['cell']} {src}->{dst} {op}" + (" feedback" if match["back"] else "")


@dataclass(frozen=True)
class Architecture:
    """An immutable, validated cell: the 4x4 operation matrix and the cell type."""

    matrix: Matrix
    celltype: str = "backward"

    def __post_init__(self) -> None:
        if self.celltype not in CELLTYPES:
            raise ArchitectureError(f"unknown cell type {self.celltype!r}: choose forward or backward")
        try:
            matrix = tuple(tuple(int(v) for v in row) for row in self.matrix)
        except (TypeError, ValueError) as exc:
            raise ArchitectureError(f"the matrix must be 4 rows of 4 integers 0-4 ({exc})") from None
        object.__setattr__(self, "matrix", matrix)
        _validate(tuple("".join(str(v) for v in row) for row in matrix), self.celltype)

    # --- notation -------------------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str | Sequence[str], celltype: str = "backward") -> Architecture:
        """Read ``"0302 0030 3003 0000"`` or the original's CLI form ``["0302", "0030", "3003", "0000"]``."""
        if isinstance(text, str):
            rows = tuple(text.split())
        else:
            # the original's argparse (type=list, nargs='+') hands over each row as a list of characters
            rows = tuple(
                part
                for item in text
                for part in ("".join(map(str, item)) if isinstance(item, (list, tuple)) else str(item)).split()
            )
        _validate(rows, celltype)
        return cls(tuple(tuple(int(c) for c in row) for row in rows), celltype)

    @property
    def rows(self) -> tuple[str, ...]:
        """The four rows as digit strings (the original's ``--cnt_mat`` arguments)."""
        return tuple("".join(str(v) for v in row) for row in self.matrix)

    def __str__(self) -> str:
        return " ".join(self.rows)

    def to_dict(self) -> dict:
        return {"arch": str(self), "celltype": self.celltype}

    @classmethod
    def from_dict(cls, data: dict) -> Architecture:
        try:
            return cls.parse(data["arch"], data.get("celltype", "backward"))
        except (KeyError, TypeError):
            raise ArchitectureError('expected {"arch": "0302 0030 3003 0000", "celltype": ...}') from None

    # --- structure ------------------------------------------------------------------------------
    def op(self, src: int, dst: int) -> int:
        return self.matrix[src][dst]

    def edges(self) -> list[Edge]:
        """Non-zero edges, forward ones first, each group in the original's module order."""
        slots = forward_slots() + (backward_slots() if self.celltype == "backward" else [])
        return [Edge(r, c, self.matrix[r][c]) for r, c in slots if self.matrix[r][c]]

    def live_nodes(self) -> tuple[int, ...]:
        """Nodes with an edge after pruning (input and output always count)."""
        m = self.pruned().matrix
        return tuple(n for n in range(NUM_NODES) if n in (INPUT, OUTPUT) or any(m[n]) or any(r[n] for r in m))

    def removed_nodes(self) -> tuple[int, ...]:
        """Inner nodes that ``pruned()`` disconnects: they are not on a path input -> output."""
        m = self.matrix
        live = self.live_nodes()
        return tuple(n for n in (1, 2) if n not in live and (any(m[n]) or any(r[n] for r in m)))

    # --- canonical forms ------------------------------------------------------------------------
    def pruned(self) -> Architecture:
        """Remove the nodes that are not on a path input -> output, exactly as the original's sanity check.

        The original sums the matrix powers M + M^2 + M^3 + M^4 once (backward edges count: they carry
        information a step later), zeroes the row and column of every node that reaches no output, then
        of every node the input does not reach.
        """
        m = [list(row) for row in self.matrix]
        reach = _walk_counts(m)
        for node in range(NUM_NODES - 1):
            if reach[node][OUTPUT] == 0:
                _disconnect(m, node)
        for node in range(1, NUM_NODES):
            if reach[INPUT][node] == 0:
                _disconnect(m, node)
        return Architecture(tuple(map(tuple, m)), self.celltype)

    def canonical(self) -> Architecture:
        """One representative for all matrices that build the same network.

        Pruning removes dead nodes. Nodes 1 and 2 are then interchangeable when no edge joins them
        (each is computed from node 0 only and feeds node 3 only; swapping them reorders a sum), so the
        smaller of the two labellings is chosen. Parameter-free rewrites (e.g. a chain of skips) are
        not merged: they change which modules hold weights.
        """
        pruned = self.pruned()
        m = pruned.matrix
        if m[1][2] or m[2][1]:
            return pruned
        swap = (0, 2, 1, 3)
        swapped = tuple(tuple(m[swap[r]][swap[c]] for c in range(NUM_NODES)) for r in range(NUM_NODES))
        return min(pruned, Architecture(swapped, self.celltype), key=str)

    @property
    def reaches_output(self) -> bool:
        """Some path of edges leads from the input node to the output node (backward edges count, a step later);
        without one the cell's output is 0 whatever the image."""
        return _walk_counts([list(row) for row in self.matrix])[INPUT][OUTPUT] > 0

    def require_output_reached(self) -> Architecture:
        """``self``, or an ArchitectureError for a cell whose output the input never reaches."""
        if not self.reaches_output:
            raise ArchitectureError(
                f"cell {self} ({self.celltype}) has no path from the input node 0 to the output node 3, so its "
                "output is 0 for every image: give at least one, e.g. a direct edge in row 1, column 4 (0003 ...)"
            )
        return self

    @property
    def has_input_output_edge(self) -> bool:
        """The original's constraint on sampled cells: a direct edge input -> output."""
        return self.matrix[INPUT][OUTPUT] != 0


def _validate(rows: tuple[str, ...], celltype: str) -> None:
    if celltype not in CELLTYPES:
        raise ArchitectureError(f"unknown cell type {celltype!r}: choose forward or backward")
    if len(rows) != NUM_NODES:
        raise ArchitectureError(
            f"expected {NUM_NODES} rows of {NUM_NODES} digits like '{_EXAMPLE}', got {len(rows)} row(s)"
        )
    for r, row in enumerate(rows):
        where = f"row {r + 1} ('{row}')"
        if len(row) != NUM_NODES:
            raise ArchitectureError(f"{where} has {len(row)} characters, expected {NUM_NODES} digits 0-4")
        for c, ch in enumerate(row):
            at = f"{where}, character {c + 1}"
            if ch not in _OP_DIGITS:
                raise ArchitectureError(f"{at}: {ch!r} is not an operation ({OP_HELP})")
            if ch == str(ZERO):
                continue
            if r == c:
                raise ArchitectureError(f"{at}: the diagonal must be 0 (node {r} has no edge to itself)")
            if r > c and celltype == "forward":
                raise ArchitectureError(
                    f"{at}: backward edge node {r} -> node {c} in a forward cell "
                    "(use celltype backward, or 0 below the diagonal)"
                )


def _walk_counts(m: list[list[int]]) -> list[list[int]]:
    """M + M^2 + M^3 + M^4 in integers (the original does it in float; only zero/non-zero matters)."""

    def mul(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
        n = len(a)
        return [[sum(a[i][k] * b[k][j] for k in range(n)) for j in range(n)] for i in range(n)]

    total, power = [row[:] for row in m], m
    for _ in range(3):
        power = mul(power, m)
        total = [[t + p for t, p in zip(tr, pr, strict=True)] for tr, pr in zip(total, power, strict=True)]
    return total


def _disconnect(m: list[list[int]], node: int) -> None:
    for i in range(NUM_NODES):
        m[i][node] = 0
        m[node][i] = 0


# --- sampling and enumeration ---------------------------------------------------------------------
def draw_matrix(rng: torch.Generator | None, celltype: str) -> Matrix:
    """One raw matrix drawn like the original's ``connection_matrix_gen`` (same torch calls, same order).

    Forward cell: a random op on every upper-triangle edge. Backward cell: each node pair gets either
    its forward or its backward edge (a fair coin), each op drawn uniformly from 0-4.
    """
    import torch

    if celltype not in CELLTYPES:
        raise ArchitectureError(f"unknown cell type {celltype!r}: choose forward or backward")
    n, k = NUM_NODES, len(OP_NAMES)
    upper = torch.triu(torch.randint(k, size=(n, n), generator=rng), diagonal=1)
    if celltype == "forward":
        cnts = upper
    else:
        lower = torch.tril(torch.randint(k, size=(n, n), generator=rng), diagonal=-1)
        select = torch.triu(torch.randint(2, size=(n, n), generator=rng), diagonal=1)
        cnts = select * upper + (1 - select.permute(1, 0)) * lower
    return tuple(tuple(int(v) for v in row) for row in cnts.tolist())


def sample(rng: torch.Generator | None, celltype: str = "backward") -> Architecture:
    """The original's sampler: draw, prune, and redraw until the input connects directly to the output."""
    while True:
        arch = Architecture(draw_matrix(rng, celltype), celltype).pruned()
        if arch.has_input_output_edge:
            return arch


def enumerate_canonical(celltype: str = "forward") -> Iterator[Architecture]:
    """Every distinct canonical cell of the search space (input -> output edge present), in a fixed order.

    Forward: the 6 upper-triangle edges take 5 ops each, the input -> output edge one of the 4 non-zero
    ops: 4 * 5^5 = 12500 matrices. Backward: each of the other 5 node pairs has 9 states (no edge, or
    a forward or a backward edge with one of 4 ops): 4 * 9^5 matrices.
    """
    if celltype not in CELLTYPES:
        raise ArchitectureError(f"unknown cell type {celltype!r}: choose forward or backward")
    pairs = [(r, c) for r, c in forward_slots() if (r, c) != (INPUT, OUTPUT)]
    states = [(0, 0)] + [(1, op) for op in range(1, 5)]
    if celltype == "backward":
        states += [(-1, op) for op in range(1, 5)]
    seen: set[Architecture] = set()
    for io_op in range(1, 5):
        for choice in itertools.product(states, repeat=len(pairs)):
            m = [[0] * NUM_NODES for _ in range(NUM_NODES)]
            m[INPUT][OUTPUT] = io_op
            for (r, c), (direction, op) in zip(pairs, choice, strict=True):
                if direction > 0:
                    m[r][c] = op
                elif direction < 0:
                    m[c][r] = op
            arch = Architecture(tuple(map(tuple, m)), celltype).canonical()
            if arch not in seen:
                seen.add(arch)
                yield arch

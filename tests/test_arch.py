"""The cell encoding: notation, validation, the original's pruning, canonical forms, sampling, enumeration."""

from __future__ import annotations

import itertools

import pytest
import torch

from snasnet.core.errors import ArchitectureError
from snasnet.network.arch import (
    Architecture,
    draw_matrix,
    enumerate_canonical,
    forward_slots,
    layer_label,
    sample,
)

GOLDEN = "0302 0030 3003 0000"


# --- notation ------------------------------------------------------------------------------------
def test_parse_and_format_round_trip_in_both_notations():
    a = Architecture.parse(GOLDEN)
    assert str(a) == GOLDEN
    assert a.rows == ("0302", "0030", "3003", "0000")
    assert a.matrix[0] == (0, 3, 0, 2) and a.matrix[2][0] == 3
    # the original's CLI: four separate arguments, or argparse's list-of-characters form
    assert Architecture.parse(["0302", "0030", "3003", "0000"]) == a
    assert Architecture.parse([list("0302"), list("0030"), list("3003"), list("0000")]) == a
    assert Architecture.from_dict(a.to_dict()) == a
    assert hash(Architecture.parse(GOLDEN)) == hash(a)


def test_round_trip_of_sampled_cells():
    g = torch.Generator().manual_seed(5)
    for celltype in ("forward", "backward"):
        for _ in range(200):
            a = sample(g, celltype)
            assert Architecture.parse(str(a), celltype) == a


def test_architecture_is_immutable():
    a = Architecture.parse(GOLDEN)
    with pytest.raises(AttributeError):
        a.celltype = "forward"  # type: ignore[misc]


# --- validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "celltype", "expected"),
    [
        ("0302 0030 3003", "backward", "expected 4 rows of 4 digits"),
        ("0302 0030 3003 0000 0000", "backward", "got 5 row(s)"),
        ("0302 003 3003 0000", "backward", "row 2 ('003') has 3 characters"),
        ("0302 0030 30a3 0000", "backward", "row 3 ('30a3'), character 3: 'a' is not an operation"),
        ("0302 0030 3005 0000", "backward", "row 3 ('3005'), character 4: '5' is not an operation"),
        ("0302 0130 3003 0000", "backward", "row 2 ('0130'), character 2: the diagonal must be 0"),
        (GOLDEN, "forward", "row 3 ('3003'), character 1: backward edge node 2 -> node 0 in a forward cell"),
        (GOLDEN, "sideways", "unknown cell type 'sideways'"),
    ],
)
def test_each_validation_error_names_its_place(text, celltype, expected):
    with pytest.raises(ArchitectureError) as err:
        Architecture.parse(text, celltype)
    assert expected in str(err.value)
    assert "\n" not in str(err.value)


def test_matrix_constructor_validates_too():
    with pytest.raises(ArchitectureError, match="diagonal"):
        Architecture(((1, 0, 0, 1), (0,) * 4, (0,) * 4, (0,) * 4), "forward")
    with pytest.raises(ArchitectureError, match="not an operation"):
        Architecture(((0, 0, 0, 7), (0,) * 4, (0,) * 4, (0,) * 4), "forward")


# --- pruning as the original ----------------------------------------------------------------------
def original_sanity_check(matrix: tuple[tuple[int, ...], ...]) -> tuple[tuple[int, ...], ...]:
    """The original's check, transcribed: float matrix powers with torch.mm, then row/column removal."""
    con_mat = torch.tensor(matrix, dtype=torch.float32)
    neigh2 = torch.mm(con_mat, con_mat)
    neigh3 = torch.mm(neigh2, con_mat)
    neigh4 = torch.mm(neigh3, con_mat)
    graph = con_mat + neigh2 + neigh3 + neigh4
    for node in range(3):
        if graph[node, 3] == 0:
            con_mat[:, node] = 0
            con_mat[node, :] = 0
    for node in range(3):
        if graph[0, node + 1] == 0:
            con_mat[:, node + 1] = 0
            con_mat[node + 1, :] = 0
    return tuple(tuple(int(v) for v in row) for row in con_mat.tolist())


@pytest.mark.parametrize("celltype", ["forward", "backward"])
def test_pruning_matches_the_original_sanity_check(celltype):
    g = torch.Generator().manual_seed(11)
    changed = 0
    for _ in range(3000):
        raw = draw_matrix(g, celltype)
        pruned = Architecture(raw, celltype).pruned()
        assert pruned.matrix == original_sanity_check(raw), raw
        changed += pruned.matrix != raw
    assert changed > 300  # the comparison exercised real removals


def test_pruned_nodes_are_reported():
    # node 1 takes the input but feeds nothing; node 2 feeds the output but receives nothing
    a = Architecture.parse("0302 0000 0003 0000", "forward")
    assert a.removed_nodes() == (1, 2)
    assert a.live_nodes() == (0, 3)
    assert str(a.pruned()) == "0002 0000 0000 0000"
    assert Architecture.parse(GOLDEN).removed_nodes() == ()


# --- canonical form ---------------------------------------------------------------------------------
def test_dead_nodes_do_not_change_the_canonical_form():
    with_dead = Architecture.parse("0342 0000 0003 0000", "forward")  # node 1 is a dead end
    without = Architecture.parse("0042 0000 0003 0000", "forward")
    assert with_dead != without
    assert with_dead.canonical() == without.canonical()


def test_interchangeable_inner_nodes_share_a_canonical_form():
    # node 1 (conv3x3 in, avgpool out) and node 2 (skip in, conv1x1 out) swap roles
    a = Architecture.parse("0312 0004 0002 0000", "forward")
    b = Architecture.parse("0132 0002 0004 0000", "forward")
    assert a.canonical() == b.canonical()
    # backward cells: feedback edges move with their nodes
    c = Architecture.parse("0302 0003 3001 0200", "backward")
    d = Architecture.parse("0032 3001 0003 0020", "backward")
    assert c.canonical() == d.canonical()


def test_different_networks_keep_different_canonical_forms():
    assert Architecture.parse(GOLDEN).canonical() != Architecture.parse("0302 0030 3004 0000").canonical()
    # an edge between the inner nodes fixes their order: no swap
    a = Architecture.parse("0312 0022 0002 0000", "forward")
    b = Architecture.parse("0132 0002 0002 0000", "forward")
    assert a.canonical() == a
    assert a.canonical() != b.canonical()


def test_canonical_is_idempotent_and_keeps_the_celltype():
    g = torch.Generator().manual_seed(2)
    for celltype in ("forward", "backward"):
        for _ in range(300):
            a = sample(g, celltype)
            c = a.canonical()
            assert c.canonical() == c
            assert c.celltype == celltype


# --- sampling -----------------------------------------------------------------------------------------
def original_connection_matrix_gen(celltype: str) -> torch.Tensor:
    """The original's generator, transcribed: it draws from torch's global RNG."""
    num_node, num_options = 4, 5
    if celltype == "forward":
        return torch.triu(torch.randint(num_options, size=(num_node, num_node)), diagonal=1)
    upper_cnts = torch.triu(torch.randint(num_options, size=(num_node, num_node)), diagonal=1)
    lower_cnts = torch.tril(torch.randint(num_options, size=(num_node, num_node)), diagonal=-1)
    selection_mask = torch.triu(torch.randint(2, size=(num_node, num_node)), diagonal=1)
    tr_selection_mask = 1 - selection_mask.permute(1, 0)
    return selection_mask * upper_cnts + tr_selection_mask * lower_cnts


@pytest.mark.parametrize("celltype", ["forward", "backward"])
def test_draws_are_the_originals_for_the_same_seed(celltype):
    torch.manual_seed(1234)
    expected = [tuple(map(tuple, original_connection_matrix_gen(celltype).tolist())) for _ in range(50)]
    g = torch.Generator().manual_seed(1234)
    assert [draw_matrix(g, celltype) for _ in range(50)] == expected


@pytest.mark.parametrize("celltype", ["forward", "backward"])
def test_sampled_cells_obey_the_originals_constraints(celltype):
    g = torch.Generator().manual_seed(3)
    cells = [sample(g, celltype) for _ in range(500)]
    for a in cells:
        assert a.has_input_output_edge
        assert a.pruned() == a
        for r, c in itertools.permutations(range(4), 2):
            if celltype == "forward" and r > c:
                assert a.matrix[r][c] == 0
            if celltype == "backward" and r < c:
                assert not (a.matrix[r][c] and a.matrix[c][r]), "a node pair got both a forward and a backward edge"
    if celltype == "backward":
        assert any(a.edges()[-1].backward for a in cells)
    assert len(set(cells)) > 200  # pruning merges many draws, but the sampler is not degenerate


def test_same_seed_same_samples():
    first = [sample(torch.Generator().manual_seed(9)) for _ in range(1)]
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    assert [sample(g1) for _ in range(30)] == [sample(g2) for _ in range(30)]
    assert first[0] == sample(torch.Generator().manual_seed(9))


# --- enumeration --------------------------------------------------------------------------------------
def test_forward_enumeration_count():
    """7012 canonical forward cells.

    Per choice of the input->output op (4 non-zero ops), count the pruned configurations of the other
    five edges (e01, e02, e12, e13, e23; each 0-4, 4 non-zero ops):
      no inner node live: 1; only node 1 live (e01, e13 non-zero, the rest 0): 16; only node 2: 16;
      both live: e01 != 0, e23 != 0 (16 ways) and (e02, e12, e13) with node 2 reached and node 1 reaching
      the output: e12 != 0 (100 ways) or e12 = 0 with e02, e13 != 0 (16 ways): 16 * 116 = 1856.
    That is 1889 pruned forms. Nodes 1 and 2 are interchangeable when e12 = 0: the two single-node
    classes merge (-16), and the 256 both-live forms with e12 = 0 fall into 16 symmetric ones plus 120
    pairs (-120): 1889 - 16 - 120 = 1753. Times 4 input->output ops: 7012.
    """
    cells = list(enumerate_canonical("forward"))
    assert len(cells) == 4 * 1753 == 7012
    assert len(set(cells)) == len(cells)
    for a in cells:
        assert a.celltype == "forward" and a.has_input_output_edge and a.canonical() == a
    # every sampled forward cell is one of them
    space = set(cells)
    g = torch.Generator().manual_seed(0)
    assert all(sample(g, "forward").canonical() in space for _ in range(500))
    # and without the node symmetry, the pruned count is 4 * 1889
    pruned = set()
    for ops in itertools.product(range(5), repeat=6):
        m = [[0] * 4 for _ in range(4)]
        for (r, c), op in zip(forward_slots(), ops, strict=True):
            m[r][c] = op
        if m[0][3]:
            pruned.add(Architecture(tuple(map(tuple, m)), "forward").pruned())
    assert len(pruned) == 4 * 1889


@pytest.mark.parametrize(
    ("rows", "celltype", "reaches"),
    [
        ("0000 0000 0000 0000", "backward", False),
        ("0100 0000 0000 0000", "forward", False),  # 0 -> 1, and 1 leads nowhere
        ("0100 0010 0000 0000", "forward", False),  # 0 -> 1 -> 2, and 2 leads nowhere
        ("0100 0010 0001 0000", "forward", True),  # 0 -> 1 -> 2 -> 3
        ("0001 0000 0000 0000", "forward", True),
        ("0010 0000 0001 0000", "forward", True),  # 0 -> 2 -> 3
        ("0000 0000 0000 0100", "backward", False),  # only 3 -> 1, back from the output
    ],
)
def test_a_cell_reaches_its_output_when_a_path_leads_there(rows, celltype, reaches):
    arch = Architecture.parse(rows, celltype)
    assert arch.reaches_output is reaches
    if not reaches:
        with pytest.raises(ArchitectureError, match="no path from the input node 0 to the output node 3"):
            arch.require_output_reached()


def test_layers_are_named_by_their_cell_edge():
    # issue 28: "cell1.cell_architecture.0.0" says nothing to a reader of the cell; its edge does
    cell = "0302 0030 3003 0000"  # forward slots 0->1, 0->2, 1->2, 0->3, 1->3, 2->3; backward 1->0, 2->0, ...
    assert layer_label("cell1.cell_architecture.0.0", cell) == "cell1 0->1 conv3x3"
    assert layer_label("cell2.cell_architecture.3.2", cell) == "cell2 0->3 conv1x1"  # the conv inside the edge
    assert layer_label("cell1.cell_architecture_back.1.0", cell) == "cell1 2->0 conv3x3 feedback"
    assert layer_label("cell1.cell_architecture.0.0", Architecture.parse(cell)) == "cell1 0->1 conv3x3"
    for other in ("downconv1.1", "last_act.1", "classifier.2"):
        assert layer_label(other, cell) == other
    assert layer_label("cell1.cell_architecture.0.0", None) == "cell1.cell_architecture.0.0"  # cell unknown
    assert layer_label("cell1.cell_architecture.0.0", "not a cell") == "cell1.cell_architecture.0.0"

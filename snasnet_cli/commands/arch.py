"""`snasnet arch`: show a cell readably, its canonical form, and the size of the network it builds."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from snasnet_cli import closed_pipe

NODE_ROLES = {0: "input", 3: "output"}


def _si(n: int) -> str:
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if n >= scale:
            return f"{n / scale:.3f} {unit}"
    return str(n)


def arch(
    rows: Annotated[list[str], typer.Argument(help="The cell as four rows of digits: 0302 0030 3003 0000.")],
    celltype: Annotated[str, typer.Option(help="forward or backward.")] = "backward",
    preset: Annotated[str, typer.Option(help="Network preset the counts are for.")] = "cifar100",
    timesteps: Annotated[int, typer.Option(help="Timesteps T, for the per-image total.")] = 5,
    second_avgpooling: Annotated[int, typer.Option(help="Pooling before the classifier.")] = 2,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """Show a cell (nodes, edges, pruned nodes, canonical form) and the size of its network."""
    from snasnet.measure.complexity import complexity
    from snasnet.network.arch import Architecture
    from snasnet.network.model import build_model

    cell = Architecture.parse(rows, celltype).require_output_reached()
    cost = complexity(build_model(preset, cell, timesteps=timesteps, second_avgpooling=second_avgpooling))
    removed = cell.removed_nodes()
    report = {
        "arch": str(cell),
        "celltype": cell.celltype,
        "nodes": [{"node": n, "role": NODE_ROLES.get(n, "inner"), "pruned": n in removed} for n in range(4)],
        "edges": [
            {
                "src": e.src,
                "dst": e.dst,
                "op": e.op,
                "op_name": e.op_name,
                "direction": "backward" if e.backward else "forward",
            }
            for e in cell.edges()
        ],
        "pruned_nodes": list(removed),
        "canonical": str(cell.canonical()),
        "preset": preset,
        "timesteps": timesteps,
        "params": cost.params,
        "macs_per_timestep": cost.macs_per_timestep,
        "stem_macs": cost.stem_macs,
        "macs_per_image": cost.macs_per_image,
    }
    if as_json:
        typer.echo(json.dumps(report, indent=2))
        return

    console = closed_pipe.console()
    console.print(f"[bold]cell[/bold] {cell}  ({cell.celltype})")
    nodes = ", ".join(
        f"{n} {NODE_ROLES.get(n, '')}".strip() + (" [red](pruned)[/red]" if n in removed else "") for n in range(4)
    )
    console.print(f"nodes: {nodes}")
    table = Table(show_edge=False, header_style="bold")
    for column in ("edge", "op", "direction"):
        table.add_column(column)
    for e in cell.edges():
        direction = "backward: node's value at t-1 feeds step t" if e.backward else "forward"
        table.add_row(f"{e.src} -> {e.dst}", f"{e.op} {e.op_name}", direction)
    console.print(table)
    console.print(f"pruned nodes: {', '.join(map(str, removed)) if removed else 'none'}")
    console.print(f"canonical: {cell.canonical()}")
    console.print(
        f"network ({preset}, T={timesteps}): {cost.params:,} parameters; dense MACs {_si(cost.macs_per_timestep)} "
        f"per timestep + {_si(cost.stem_macs)} stem once = {_si(cost.macs_per_image)} per image"
    )

"""`snasnet models`: the named networks (the paper's), what each is, and where its original weights come from."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from snasnet_cli import closed_pipe


def models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for machines.")] = False,
) -> None:
    """The named networks (the paper's), and where their original weights come from.

    Use one with [bold]snasnet train --model NAME[/bold], [bold]snasnet eval --model NAME CKPT[/bold] or
    snasnet.create_model(NAME) in Python.
    """
    from snasnet.network.zoo import get_model, list_models

    entries = [get_model(name).describe() for name in list_models()]
    if as_json:
        typer.echo(json.dumps(entries, indent=2))
        return
    table = Table(title="named networks (top-1: the paper's, at T = 5)", title_justify="left")
    for column in ("name", "dataset", "cell", "cell type", "pooling", "top-1"):
        table.add_column(column, justify="right" if column in ("pooling", "top-1") else "left", no_wrap=True)
    for e in entries:
        pooling, top1 = str(e["second_avgpooling"]), f"{e['paper_top1']:.2f}%"
        table.add_row(e["name"], e["dataset"], e["arch"], e["celltype"], pooling, top1)
    console = closed_pipe.console(highlight=False, soft_wrap=True)  # `| head`: no traceback
    if not console.is_terminal:  # a file or a pipe: whole lines, nothing cut to 80 columns
        console.width = 160
    console.print(table)
    for e in entries:
        console.print(f"{e['weights_file']}: {e['weights_url']}")
    console.print(f"(linked from the original repository's README: {entries[0]['source']})" if entries else "")

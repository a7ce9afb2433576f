"""``--arch 0302 0030 3003 0000`` as the original's command line writes it (four words), or quoted as one.

A Click option takes a fixed number of values, so the rows after the first arrive among the command's
positional arguments; ``join_arch_rows`` takes them back from there.
"""

from __future__ import annotations

import re

ROW = re.compile(r"^[0-9]{4}$")
ROWS = 4


def join_arch_rows(arch: str | None, positionals: list[str]) -> tuple[str | None, list[str]]:
    """``(the cell as "0302 0030 3003 0000", the positional arguments that are not rows of it)``."""
    if arch is None:
        return None, list(positionals)
    rows, rest = arch.split(), []
    for value in positionals:
        if len(rows) < ROWS and ROW.match(value):
            rows.append(value)
        else:
            rest.append(value)
    return " ".join(rows), rest

"""`snasnet search` (placeholder until its issue lands)."""

from snasnet_cli.commands.pending import ANY_ARGS, not_yet

CONTEXT = ANY_ARGS
search = not_yet("search", "Training-free architecture search (SAHD score at initialisation).")

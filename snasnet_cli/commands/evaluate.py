"""`snasnet eval` (placeholder until its issue lands)."""

from snasnet_cli.commands.pending import ANY_ARGS, not_yet

CONTEXT = ANY_ARGS
evaluate = not_yet("eval", "Evaluate a checkpoint: accuracy and spike statistics.")

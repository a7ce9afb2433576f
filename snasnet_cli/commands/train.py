"""`snasnet train` (placeholder until its issue lands)."""

from snasnet_cli.commands.pending import ANY_ARGS, not_yet

CONTEXT = ANY_ARGS
train = not_yet("train", "Train an architecture with surrogate gradients.")

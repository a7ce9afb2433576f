"""`snasnet tui` (placeholder until its issue lands)."""

from snasnet_cli.commands.pending import ANY_ARGS, not_yet

CONTEXT = ANY_ARGS
tui = not_yet("tui", "Live terminal dashboard that drives jobs and follows run directories.")

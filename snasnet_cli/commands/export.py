"""`snasnet export` (placeholder until its issue lands)."""

from snasnet_cli.commands.pending import ANY_ARGS, not_yet

CONTEXT = ANY_ARGS
export = not_yet("export", "Export a checkpoint: ONNX unrolled over timesteps, energy report, NIR.")

"""What every job shares, below everything else: errors and registries, the run directory and its lock,
atomic writes, stop signals, distributed set-up, seeding and device placement (docs/architecture.md).

Imports nothing from the rest of snasnet. Nothing is imported here, so ``import snasnet.core.runs`` (which the
dashboard uses) stays free of torch.
"""

"""Exporters of trained SNASNet models: ONNX unrolled over timesteps, per-layer energy, NIR.

They use snasnet's public API only, and never import typer, textual or rich.
"""

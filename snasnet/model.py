"""The old path of ``snasnet.network.model`` (``from snasnet.model import build_model``), kept for code
written before the package layout; new code imports ``snasnet.build_model`` or ``snasnet.network.model``."""

from snasnet.network.model import PATHS, SNASNet, build_model, make_cell, model_from_config

__all__ = ["PATHS", "SNASNet", "build_model", "make_cell", "model_from_config"]

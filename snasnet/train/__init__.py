"""Training and evaluation: the recipe (``recipe``: a dataset's defaults, optimizers, schedulers), numeric
precision (``precision``), the loop and its checkpoints (``trainer``, ``sampler``), evaluation and the eval job
(``evaluate``), and the train job that writes a run (``job``).

Imports ``snasnet.core``, ``snasnet.network``, ``snasnet.data`` and ``snasnet.measure``. The job's public names
are offered here too, as the module ``snasnet.train`` offered them before the package existed
(``from snasnet.train import fit, train_config``); they are imported on first use, so the registries the
command line lists (``snasnet.train.optimizers``, ``schedulers``, ``precision``) load without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from snasnet.core.lazy import lazy_dir, lazy_exports

__all__ = ["DATASET_DEFAULTS", "DEFAULT_ARCH", "TrainConfig", "TrainResult", "fit", "resume", "train_config"]

if TYPE_CHECKING:
    from snasnet.train.job import DATASET_DEFAULTS, DEFAULT_ARCH, TrainConfig, TrainResult, fit, resume, train_config

__getattr__ = lazy_exports(__name__, dict.fromkeys(__all__, "snasnet.train.job"))
__dir__ = lazy_dir(__name__, dict.fromkeys(__all__, "snasnet.train.job"))

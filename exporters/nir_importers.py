"""Load an exported NIR file with the neuromorphic toolchains' own importers and run it for T steps, as a
user of each would: what ``snasnet export nir --check`` reports.

Each importer is registered by name with how to load a graph and step it; ``check_importers`` runs the chosen
ones on the same images, averages each one's outputs over the T steps (as the model averages its class
scores) and compares with the model's scores by the golden rule (``exporters.parity``). An importer that is not
installed is reported as such; one that fails to load or to run is reported with its own error.
"""

from __future__ import annotations

import contextlib
import copy
import importlib.util
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import torch

from exporters.nir_simulation import average_over_steps, simulate_nir
from exporters.parity import Parity, compare_scores
from snasnet.core.registry import Registry

#: ``run(graph, images, timesteps, dt) -> outputs averaged over the steps``
Runner = Callable[[object, torch.Tensor, int, float], torch.Tensor]


@dataclass(frozen=True)
class Importer:
    name: str
    #: the package whose presence makes the importer available
    package: str
    run: Runner
    #: why this importer cannot load a graph (None: it can); an importer that cannot is left out of the default
    #: check and listed as not applicable, instead of failing every time
    cannot_load: Callable[[object], str | None] = lambda graph: None

    @property
    def installed(self) -> bool:
        return importlib.util.find_spec(self.package) is not None


IMPORTERS: Registry[Importer] = Registry("NIR importer")


def _run_nirtorch(graph, images, timesteps, dt):
    return simulate_nir(graph, images, timesteps, dt)


def _run_snntorch(graph, images, timesteps, dt):
    from snntorch import utils
    from snntorch.import_nir import import_from_nir

    module = import_from_nir(copy.deepcopy(graph))  # it rewrites the graph's edges in place
    utils.reset(module)  # its neurons keep their membranes inside (init_hidden)
    return average_over_steps(module, images, timesteps)


def _run_norse(graph, images, timesteps, dt):
    import norse.torch

    module = norse.torch.from_nir(graph, dt=dt)
    return average_over_steps(module, images, timesteps)


def _run_spikingjelly(graph, images, timesteps, dt):
    from spikingjelly.activation_based.nir_exchange import import_from_nir

    module = import_from_nir(graph, dt=dt)
    return average_over_steps(module, images, timesteps)


def _run_sinabs(graph, images, timesteps, dt):
    import sinabs

    module = sinabs.from_nir(graph, batch_size=len(images))
    # sinabs layers take all steps at once, as [batch * time, ...] (event frames are that already)
    steps = images.flatten(0, 1) if images.dim() == 5 else images.repeat_interleave(timesteps, 0)
    out, _ = module(steps)
    return out.view(len(images), timesteps, -1).mean(1)


def _sinabs_cannot_load(graph) -> str | None:
    import numpy as np

    # sinabs 2 tests `any(node.v_leak) != 0`: over a [C, H, W] array that is an array's truth value, which raises
    shaped = [name for name, node in graph.nodes.items() if np.ndim(getattr(node, "v_leak", 0)) > 1]
    if shaped:
        return f"sinabs reads no LIF over [C, H, W] (it tests any(v_leak) on the array; {shaped[0]} is one)"
    return None


# what each runs: nirtorch.nir_to_torch with exporters.nir_simulation's map; snntorch.import_nir.import_from_nir;
# norse.torch.from_nir; spikingjelly.activation_based.nir_exchange.import_from_nir; sinabs.from_nir
for _importer in (
    Importer("nirtorch", "nirtorch", _run_nirtorch),
    Importer("snntorch", "snntorch", _run_snntorch),
    Importer("norse", "norse", _run_norse),
    Importer("spikingjelly", "spikingjelly", _run_spikingjelly),
    Importer("sinabs", "sinabs", _run_sinabs, _sinabs_cannot_load),
):
    IMPORTERS.add(_importer.name, _importer)


@dataclass(frozen=True)
class ImporterCheck:
    """One importer on one file: installed; ``loads``: it loaded the file and ran T steps (else ``error`` is
    its own error); how its scores compare with the model's."""

    importer: str
    installed: bool
    loads: bool
    error: str | None = None
    parity: Parity | None = None
    #: False: not run, the importer cannot load this graph (``error`` says why)
    applicable: bool = True

    @property
    def passed(self) -> bool:
        return self.parity is not None and self.parity.passed

    def to_dict(self) -> dict:
        return {
            "importer": self.importer,
            "installed": self.installed,
            "applicable": self.applicable,
            "loads": self.loads,
            "error": self.error,
            "parity": None if self.parity is None else self.parity.to_dict(),
        }


def installed_importers() -> list[str]:
    return [name for name in IMPORTERS.names() if IMPORTERS.get(name).installed]


def _error(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:200]


def check_importer(
    name: str, graph, images: torch.Tensor, reference: torch.Tensor, timesteps: int, dt: float, run_all: bool = True
) -> ImporterCheck:
    """Run importer ``name`` on ``graph`` (a ``nir.NIRGraph``) and compare with ``reference`` scores.
    ``run_all`` False: an importer that cannot load the graph (``Importer.cannot_load``) is not run."""
    importer = IMPORTERS.get(name)
    if not importer.installed:
        return ImporterCheck(name, installed=False, loads=False, error=f"{importer.package} is not installed")
    reason = None if run_all else importer.cannot_load(graph)
    if reason is not None:
        return ImporterCheck(name, installed=True, loads=False, error=reason, applicable=False)
    try:
        # snnTorch prints as it imports; nirtorch warns that Norse's and sinabs's loader is deprecated, torch
        # that Norse's import uses torch.jit.script
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.simplefilter("ignore", FutureWarning)
            scores = importer.run(graph, images, timesteps, dt)
        parity = compare_scores(scores.detach().reshape(reference.shape), reference)
    except Exception as exc:  # the importer's own failure is the finding
        return ImporterCheck(name, installed=True, loads=False, error=_error(exc))
    return ImporterCheck(name, installed=True, loads=True, parity=parity)


def check_importers(
    names: list[str], graph, images: torch.Tensor, reference: torch.Tensor, timesteps: int, dt: float,
    run_all: bool = True,
) -> list[ImporterCheck]:  # fmt: skip
    return [check_importer(name, graph, images, reference, timesteps, dt, run_all) for name in names]

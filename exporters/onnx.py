"""ONNX export of an SNASNet, checked in onnxruntime against the PyTorch model.

Two graphs of the same network (``exporters.plain_model``: LIF membranes and cell feedback as explicit
tensors, the Heaviside step as a comparison, no spikingjelly operator, batch norms after convolutions and
the output group average folded into the weights):

- ``mode="unrolled"``: ``images -> scores``, all T timesteps in one graph (the stem computed once, the
  feedback edges unrolled, the last step's unused feedback left out), scores averaged over T as the model's;
  a frames network's ``images`` are its event frames ``[B, T, C, H, W]``, the stem run on each;
- ``mode="step"``: one timestep, ``(images, state...) -> (scores, next state...)``, for runtimes and chips
  that run step by step. Start from ``initial_state`` and feed each ``next.<name>`` output back as input
  ``<name>``; the prediction is the mean of the T step scores (``run_onnx`` does this loop). A frames
  network's step takes one frame ``[B, C, H, W]``: the streaming form a sensor feeds.

Optional extra outputs ``spikes.<LIF layer>`` give each LIF layer's spikes per image (over T, or this step).

Exporter: torch's default, the torch.export-based ("dynamo") exporter, which needs ``onnxscript``; the
legacy TorchScript exporter (``exporter="torchscript"``) gives the same graph and stays as a fallback,
since torch deprecates it. Both unroll the Python loop over timesteps while tracing.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.onnx import _constants  # the opsets torch's exporters know (no public name for them)

from exporters.memory import check_batch_fits
from exporters.parity import Parity, compare_scores, torch_scores
from exporters.plain_model import PlainSNASNet
from snasnet.core.atomic import atomic_path
from snasnet.core.errors import ConfigError
from snasnet.core.registry import Registry
from snasnet.network.model import SNASNet
from snasnet.network.presets import FRAMES

DEFAULT_OPSET = 18
IMAGES, SCORES = "images", "scores"
NEXT, SPIKES = "next.", "spikes."
META = "snasnet."  # prefix of the metadata keys written into the graph


class _UnrolledGraph(nn.Module):
    def __init__(self, plain: PlainSNASNet, spike_counts: bool) -> None:
        super().__init__()
        self.plain, self.spike_counts = plain, spike_counts

    def forward(self, images: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        scores, spikes = self.plain.run(images)
        if not self.spike_counts:
            return scores
        return (scores, *spikes.values())


class _StepGraph(nn.Module):
    def __init__(self, plain: PlainSNASNet, spike_counts: bool) -> None:
        super().__init__()
        self.plain, self.spike_counts = plain, spike_counts
        self.keys = plain.state_keys()

    def forward(self, images: torch.Tensor, *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state = dict(zip(self.keys, states, strict=True))
        scores, spikes = self.plain.step(self.plain.stem(images), state, feedback=True)
        outputs = (scores, *(state[k] for k in self.keys))
        if self.spike_counts:
            outputs += tuple(spikes[name] for name in self.plain.lif_names)
        return outputs


class GraphSpec(NamedTuple):
    """What a mode exports: the module, example arguments, and the graph's state, input and output names."""

    module: nn.Module
    args: tuple[torch.Tensor, ...]
    state: list[str]
    inputs: list[str]
    outputs: list[str]


#: (plain network, example images, spike-count output names) -> what to export
MODES: Registry[Callable[[PlainSNASNet, torch.Tensor, list[str]], GraphSpec]] = Registry("ONNX mode")


@MODES.register("unrolled")
def _unrolled(plain: PlainSNASNet, images: torch.Tensor, spike_names: list[str]) -> GraphSpec:
    """All T steps in one graph: images in, class scores out."""
    return GraphSpec(_UnrolledGraph(plain, bool(spike_names)), (images,), [], [IMAGES], [SCORES, *spike_names])


@MODES.register("step")
def _step(plain: PlainSNASNet, images: torch.Tensor, spike_names: list[str]) -> GraphSpec:
    """One timestep: images and the state in, class scores and the next state out (a runtime loops T times)."""
    initial = plain.initial_state(images)
    state = list(initial)
    outputs = [SCORES, *(NEXT + k for k in state), *spike_names]
    return GraphSpec(
        _StepGraph(plain, bool(spike_names)), (images, *initial.values()), state, [IMAGES, *state], outputs
    )


@dataclass
class OnnxGraph:
    """What ``export_onnx`` wrote."""

    path: Path
    mode: str
    timesteps: int
    opset: int
    batch: int | None  # None: any batch size
    exporter: str
    inputs: list[str]
    outputs: list[str]
    state: list[str] = field(default_factory=list)  # step mode: state inputs, each fed from "next.<name>"
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {
            "path": str(self.path),
            "mode": self.mode,
            "timesteps": self.timesteps,
            "opset": self.opset,
            "batch": self.batch if self.batch is not None else "dynamic",
            "exporter": self.exporter,
            "inputs": self.inputs,
            "outputs": self.outputs,
            "seconds": round(self.seconds, 3),
        }


# --- exporters (torch's two) ------------------------------------------------------------------------
def _export_dynamo(module, args, path, input_names, output_names, opset, dynamic) -> None:
    dynamic_shapes = None
    if dynamic:
        batch = torch.export.Dim("batch", min=1)
        # torch.export reads a graph's signature: (images,) or (images, *states), the varargs as one tuple
        dynamic_shapes = ({0: batch},) if len(args) == 1 else ({0: batch}, tuple({0: batch} for _ in args[1:]))
    # the dynamo exporter reports its progress on stdout; a library keeps stdout for its caller
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            args,
            path,
            dynamo=True,
            input_names=input_names,
            output_names=output_names,
            opset_version=opset,
            dynamic_shapes=dynamic_shapes,
            external_data=False,
            verbose=False,
        )


def _export_torchscript(module, args, path, input_names, output_names, opset, dynamic) -> None:
    axes = {name: {0: "batch"} for name in input_names + output_names} if dynamic else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its deprecation notice
        torch.onnx.export(
            module,
            args,
            path,
            dynamo=False,
            input_names=input_names,
            output_names=output_names,
            opset_version=opset,
            dynamic_axes=axes,
        )


class Exporter(NamedTuple):
    """One of torch's ONNX exporters and the opsets it writes for our graph."""

    write: Callable[..., None]
    opsets: range


EXPORTERS: Registry[Exporter] = Registry("ONNX exporter")
# dynamo has operators from 18 on; below, it writes 18, tries a version converter and keeps 18 when that fails
EXPORTERS.add("dynamo", Exporter(_export_dynamo, range(18, _constants.ONNX_MAX_OPSET + 1)))
# torchscript: masked_fill (the Heaviside step) has no symbolic below opset 9
EXPORTERS.add(
    "torchscript",
    Exporter(_export_torchscript, range(9, _constants.ONNX_TORCHSCRIPT_EXPORTER_MAX_OPSET + 1)),
)


def check_opset(opset: int, exporter: str = "dynamo") -> None:
    """Refuse an opset ``exporter`` does not write."""
    opsets = EXPORTERS.get(exporter).opsets
    if opset not in opsets:
        other = [f"{n} for {EXPORTERS.get(n).opsets.start}-{EXPORTERS.get(n).opsets.stop - 1}"
                 for n in EXPORTERS.names() if n != exporter]  # fmt: skip
        raise ConfigError(
            f"opset {opset} is not supported by the {exporter} exporter: choose {opsets.start}-{opsets.stop - 1}"
            + (f" (or --exporter {', '.join(other)})" if other else "")
        )


def file_opset(path: str | os.PathLike) -> int:
    """The default-domain opset a file declares."""
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def export_onnx(
    model: SNASNet,
    path: str | os.PathLike,
    *,
    mode: str = "unrolled",
    opset: int = DEFAULT_OPSET,
    batch: int | None = None,
    spike_counts: bool = False,
    exporter: str = "dynamo",
    fold: bool = True,
    metadata: Mapping[str, str] | None = None,
) -> OnnxGraph:
    """Write ``model`` (eval mode, its ``timesteps``) as an ONNX graph at ``path`` (atomically: an existing
    file is replaced only by a complete export). ``batch``: a fixed batch size, or None for any. ``metadata``:
    more ``snasnet.*`` entries, e.g. the input's preprocessing (``exporters.jobs.input_metadata``)."""
    build_graph, write = MODES.get(mode), EXPORTERS.get(exporter).write  # unknown names: one-line errors
    check_opset(opset, exporter)
    if batch is not None and batch < 1:
        raise ConfigError(f"batch must be a positive integer or dynamic (got {batch})")
    if batch is not None:
        check_batch_fits(model, batch)
    path = Path(path)
    start = time.perf_counter()
    was_training = model.training
    model.eval()
    try:
        plain = PlainSNASNet(model, fold=fold).cpu()
    finally:
        model.train(was_training)
    p = model.preset
    frames = (model.timesteps,) if p.takes_frames and mode == "unrolled" else ()  # a step takes one frame
    images = torch.zeros(batch or 2, *frames, p.in_channels, p.image_size, p.image_size)
    spike_names = [SPIKES + name for name in plain.lif_names] if spike_counts else []
    module, args, state, inputs, outputs = build_graph(plain, images, spike_names)
    with atomic_path(path) as tmp, torch.no_grad():
        write(module, args, str(tmp), inputs, outputs, opset, batch is None)
        _write_metadata(str(tmp), model, mode, plain, state, metadata or {})
        written = file_opset(tmp)
        if written != opset:  # the exporter fell back to another opset: no file that says otherwise
            raise ConfigError(f"the {exporter} exporter wrote opset {written}, not the opset {opset} asked for")
    return OnnxGraph(path, mode, model.timesteps, written, batch, exporter, inputs, outputs, state,
                     time.perf_counter() - start)  # fmt: skip


def _write_metadata(
    path: str, model: SNASNet, mode: str, plain: PlainSNASNet, state: list[str], extra: Mapping[str, str]
) -> None:
    import onnx

    graph = onnx.load(path)
    meta = {
        "arch": str(model.arch),
        "celltype": model.arch.celltype,
        "preset": model.preset.name,
        "timesteps": str(model.timesteps),
        "input": model.preset.input,  # frames: the step graph takes one frame per step
        "mode": mode,
        "rest_membrane": repr(plain.lif_params.rest),
        "state": json.dumps(state),
        "scores": "mean over the timesteps of each step's class scores"
        if mode == "step"
        else "class scores averaged over the timesteps",
        **extra,
    }
    for key, value in meta.items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = META + key, value
    onnx.save(graph, path)


# --- running a graph ---------------------------------------------------------------------------------
def onnx_session(path: str | os.PathLike, threads: int | None = None):
    """An onnxruntime CPU session for ``path``."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def graph_metadata(session) -> dict[str, str]:
    """The ``snasnet.*`` metadata of a session's graph, without the prefix."""
    meta = session.get_modelmeta().custom_metadata_map
    return {k[len(META) :]: v for k, v in meta.items() if k.startswith(META)}


def initial_state(session, batch: int) -> dict[str, np.ndarray]:
    """A step graph's state at rest for ``batch`` images: membranes at rest, feedback 0."""
    meta = graph_metadata(session)
    rest = float(meta.get("rest_membrane", "0.0"))
    shapes = {i.name: i.shape for i in session.get_inputs()}
    state = {}
    for name in json.loads(meta.get("state", "[]")):
        shape = [batch, *shapes[name][1:]]
        state[name] = np.full(shape, rest if name.startswith("v.") else 0.0, dtype=np.float32)
    return state


def _fixed_batch(session) -> int | None:
    dim = session.get_inputs()[0].shape[0]
    return dim if isinstance(dim, int) else None


def run_onnx(session, images: np.ndarray | torch.Tensor, chunk: int = 64) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Class scores [N, classes] of an exported graph on ``images`` (and spike counts per image, if the
    graph has them), in chunks (of the graph's batch size when it is fixed; a short last chunk is padded).
    A step graph is looped over its timesteps from rest, its scores averaged as the model does."""
    images = np.ascontiguousarray(np.asarray(images, dtype=np.float32))
    meta = graph_metadata(session)
    step_mode = meta.get("mode") == "step"
    timesteps = int(meta.get("timesteps", "1"))
    names = [o.name for o in session.get_outputs()]
    size = _fixed_batch(session) or chunk
    scores, spikes = [], {n[len(SPIKES) :]: [] for n in names if n.startswith(SPIKES)}
    for start in range(0, len(images), size):
        x = images[start : start + size]
        n = len(x)
        if n < size and _fixed_batch(session):
            x = np.concatenate([x, np.zeros((size - n, *x.shape[1:]), dtype=x.dtype)])
        if step_mode:
            out = _loop_steps(session, x, timesteps, names, frames=meta.get("input") == FRAMES)
        else:
            out = dict(zip(names, session.run(None, {IMAGES: x}), strict=True))
        scores.append(out[SCORES][:n])
        for layer in spikes:
            spikes[layer].append(out[SPIKES + layer][:n])
    return np.concatenate(scores), {k: np.concatenate(v) for k, v in spikes.items()}


def _loop_steps(
    session, x: np.ndarray, timesteps: int, names: list[str], frames: bool = False
) -> dict[str, np.ndarray]:
    """``x``: static images, fed at every step, or event frames ``[N, T, C, H, W]``, frame t at step t."""
    state = initial_state(session, len(x))
    acc, counts = None, {}
    for t in range(timesteps):
        step_input = np.ascontiguousarray(x[:, t]) if frames else x
        out = dict(zip(names, session.run(None, {IMAGES: step_input, **state}), strict=True))
        state = {k: out[NEXT + k] for k in state}
        acc = out[SCORES] if acc is None else acc + out[SCORES]  # left to right, as the model sums
        for n in names:
            if n.startswith(SPIKES):
                counts[n] = out[n] if n not in counts else counts[n] + out[n]
    return {SCORES: acc / np.float32(timesteps), **counts}


# --- the check after export ---------------------------------------------------------------------------
@dataclass
class OnnxCheck:
    """``onnx.checker`` passed, and how onnxruntime's scores compare with PyTorch's on the same images."""

    parity: Parity
    onnx_seconds: float
    torch_seconds: float

    @property
    def passed(self) -> bool:
        return self.parity.passed

    def to_dict(self) -> dict:
        return {
            "checker": "ok",
            "parity": self.parity.to_dict(),
            "onnxruntime_seconds": round(self.onnx_seconds, 3),
            "torch_seconds": round(self.torch_seconds, 3),
        }


def check_onnx(
    path: str | os.PathLike, model: SNASNet, images: torch.Tensor, threads: int | None = None, chunk: int = 64
) -> OnnxCheck:
    """Validate the file with ``onnx.checker`` (raises ``onnx.checker.ValidationError``), then compare
    onnxruntime's class scores with the model's (eval mode) on ``images``."""
    import onnx

    onnx.checker.check_model(str(path))
    session = onnx_session(path, threads)
    start = time.perf_counter()
    ours, _ = run_onnx(session, images, chunk)
    onnx_seconds = time.perf_counter() - start
    reference = torch_scores(model, images, chunk)
    torch_seconds = time.perf_counter() - start - onnx_seconds
    return OnnxCheck(compare_scores(ours, reference), onnx_seconds, torch_seconds)

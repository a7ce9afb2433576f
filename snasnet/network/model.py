"""The SNASNet network (DESIGN.md): stem once, then per timestep cell1 -> downsample conv -> cell2 ->
classifier, the group-averaged class scores averaged over T. Same modules, names and init as the original.

Input (the preset's ``input``): ``static`` images ``[B, C, H, W]``, the stem run once (direct encoding, the
original's); or event ``frames`` ``[B, T, C, H, W]`` (batch first, as a DataLoader stacks ``snasnet.data.events``'s
``[T, C, H, W]`` samples), the stem run on every timestep's frame and cell 1 fed a sequence.

Two execution paths compute the same function:
- ``"reference"``: the original's order, every layer once per timestep;
- ``"fast"`` (default): layers without feedback run over all T steps at once as ``[T*B, ...]``, cells
  step by step only where feedback needs it, zero edges skipped, and in eval mode the unused feedback of
  the last step is not computed.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields

import torch
from spikingjelly.activation_based import functional, layer
from spikingjelly.activation_based.base import StepModule
from torch import nn

from snasnet.core.errors import MAX_TIMESTEPS, ConfigError, check_at_most
from snasnet.network.arch import Architecture
from snasnet.network.cells import BackwardCell, Cell, ForwardCell
from snasnet.network.neuron import LIFConfig, LIFNode, is_lif, make_lif
from snasnet.network.norms import FEEDBACK, NORMS, SEQUENCE, STEP, norm_for_input
from snasnet.network.presets import Preset, get_preset
from snasnet.network.sequence import RunningBatchNorm2d, run_seq, seq_map

PATHS = ("fast", "reference")


def make_cell(arch: Architecture, channels: int, lif: LIFConfig, norm: str = STEP) -> Cell:
    """A cell whose batch norms follow ``norm`` (``snasnet.network.norms``): a backward cell runs its edges step by
    step, a forward cell over all T at once on the fast path."""
    backward = arch.celltype == "backward"
    build = NORMS.get(norm).build
    where = FEEDBACK if backward else SEQUENCE
    return (BackwardCell if backward else ForwardCell)(arch, channels, lif, lambda c: build(c, where))


def _conv_out(size: int, stride: int) -> int:
    return (size + 2 - 3) // stride + 1  # 3x3 conv, padding 1


class SNASNet(nn.Module):
    """SNASNet for a preset and a cell. ``model(images[B, C, H, W])`` (a frames preset: ``model(frames[B, T, C, H,
    W])``) returns class scores ``[B, classes]``."""

    def __init__(
        self,
        arch: Architecture,
        preset: Preset,
        timesteps: int = 5,
        second_avgpooling: int = 2,
        lif: LIFConfig | None = None,
        path: str = "fast",
        norm: str | None = None,
    ) -> None:
        super().__init__()
        lif = lif or LIFConfig()
        norm = norm or norm_for_input(preset.input)
        bn = NORMS.get(norm).build
        if timesteps < 1:
            raise ConfigError(f"timesteps must be at least 1 (got {timesteps})")
        check_at_most("timesteps", timesteps, MAX_TIMESTEPS)
        if second_avgpooling < 1:
            raise ConfigError(f"second_avgpooling must be at least 1 (got {second_avgpooling})")
        side = _conv_out(preset.image_size, preset.stem_stride) // 2 // second_avgpooling
        if side < 1:
            raise ConfigError(
                f"image size {preset.image_size} is too small for stem stride {preset.stem_stride}, "
                f"pooling 2 and second_avgpooling {second_avgpooling}"
            )
        self.arch, self.preset, self.lif, self.norm = arch, preset, lif, norm
        self.timesteps, self.second_avgpooling = timesteps, second_avgpooling
        self.path = path
        #: fast path in eval mode: skip the backward edges at the last step (their output feeds nothing).
        #: Outputs are unchanged; spike counts of those edges then cover T-1 steps. False does the
        #: original's work exactly (e.g. to count every spike the original computes).
        self.skip_unused_feedback = True
        c1, c2 = preset.channels, 2 * preset.channels

        self.stem = nn.Sequential(
            nn.Conv2d(preset.in_channels, c1, 3, stride=preset.stem_stride, padding=1, bias=False),
            bn(c1, SEQUENCE),
        )
        self.cell1 = make_cell(arch, c1, lif, norm)
        self.downconv1 = nn.Sequential(
            bn(c1, SEQUENCE), make_lif(lif), nn.Conv2d(c1, c2, 3, padding=1, bias=False), bn(c2, SEQUENCE)
        )
        self.resdownsample1 = nn.AvgPool2d(2, 2)
        self.cell2 = make_cell(arch, c2, lif, norm)
        self.last_act = nn.Sequential(bn(c2, SEQUENCE), make_lif(lif))
        self.resdownsample2 = nn.AvgPool2d(second_avgpooling, second_avgpooling)
        self.classifier = nn.Sequential(
            layer.Dropout(0.5),
            nn.Linear(c2 * side * side, preset.classifier_width, bias=False),
            make_lif(lif),
            nn.Linear(preset.classifier_width, preset.final_neurons, bias=True),
        )
        self.boost = nn.AvgPool1d(preset.num_clusters, preset.num_clusters)
        self._step_modules = [m for m in self.modules() if isinstance(m, StepModule)]
        self._running_norms = [m for m in self.modules() if isinstance(m, RunningBatchNorm2d)]
        self.reset_parameters()

    # --- set-up ---------------------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """The original's initialisation."""
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_uniform_(m.weight, a=2)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                if m.bias is not None:
                    nn.init.constant_(m.bias, 0)

    @property
    def path(self) -> str:
        return self._path

    @path.setter
    def path(self, value: str) -> None:
        if value not in PATHS:
            raise ConfigError(f"unknown execution path {value!r}: choose one of {', '.join(PATHS)}")
        self._path = value

    def config(self) -> dict:
        """Everything needed to rebuild this network (plain data, stored in checkpoints and run.json)."""
        # the preset holds the input kind; configs written before it existed rebuild as static (its default)
        return {
            "arch": str(self.arch),
            "celltype": self.arch.celltype,
            "preset": asdict(self.preset),
            "timesteps": self.timesteps,
            "second_avgpooling": self.second_avgpooling,
            "lif": asdict(self.lif),
            "norm": self.norm,
        }

    @property
    def cells(self) -> tuple[Cell, Cell]:
        return self.cell1, self.cell2

    def lif_layers(self) -> list[tuple[str, nn.Module]]:
        """Every LIF layer by name, in forward order. A layer run in multi-step mode (``step_mode == "m"``)
        emits ``[T, B, ...]`` in one call, otherwise ``[B, ...]`` once per step."""
        return [(name, m) for name, m in self.named_modules() if is_lif(m)]

    def reset_state(self, path: str = "reference") -> None:
        """Reset membranes, dropout masks and feedback: every forward pass starts from rest. Every spikingjelly
        layer goes back to single-step mode (the fast path switches the ones it runs over all T), LIF layers use
        the inference kernel on the fast path only, and batch statistics recorded by a pass that did not finish
        are dropped."""
        functional.reset_net(self)
        for cell in self.cells:
            cell.reset_state()
        for m in self._step_modules:
            m.step_mode = "s"
            if isinstance(m, LIFNode):
                m.inference_kernel = path == "fast"
        for m in self._running_norms:
            m.clear()

    # --- forward --------------------------------------------------------------------------------
    def forward(self, inputs: torch.Tensor, path: str | None = None) -> torch.Tensor:
        path = path or self._path
        if path not in PATHS:
            raise ConfigError(f"unknown execution path {path!r}: choose one of {', '.join(PATHS)}")
        self.check_input(inputs)
        if path == "reference" and self.training and not NORMS.get(self.norm).reference_trains:
            raise ConfigError(
                f"normalisation {self.norm!r} takes the batch statistics of all timesteps at once, which the "
                "reference path (every layer once per step) cannot compute: train on the fast path"
            )
        self.reset_state(path)
        scores = self._forward(inputs, path)
        if self.training:  # the statistics this pass recorded, pooled over its timesteps
            for m in self._running_norms:
                m.commit()
        return scores

    def _forward(self, inputs: torch.Tensor, path: str) -> torch.Tensor:
        frames = self.preset.takes_frames
        if path == "reference":
            if frames:  # the stem at every step, just before that step's cells
                return self._forward_reference(self.stem(x) for x in inputs.transpose(0, 1))
            static = self.stem(inputs)  # direct encoding: the static image, computed once
            return self._forward_reference(itertools.repeat(static, self.timesteps))
        if frames:  # the stem over all T frames at once (its batch norm as the normalisation says)
            return self._forward_fast(run_seq(self.stem, inputs.transpose(0, 1)), static=False)
        return self._forward_fast(self.stem(inputs), static=True)

    def check_input(self, inputs: torch.Tensor) -> None:
        """One ConfigError line for a batch this network does not take: frames ``[B, T, C, H, W]`` with this
        network's T for a frames preset, static images ``[B, C, H, W]`` otherwise."""
        p = self.preset
        if p.takes_frames:
            if inputs.dim() != 5:
                raise ConfigError(
                    f"this network (preset {p.name}) takes event frames [B, T, C, H, W], T={self.timesteps}; got a "
                    f"{inputs.dim()}-D batch {list(inputs.shape)}: use a frames dataset (e.g. digits-dvs)"
                )
            if inputs.shape[1] != self.timesteps:
                raise ConfigError(
                    f"this network runs T={self.timesteps} timesteps but the batch has {inputs.shape[1]} frames per "
                    f"sample: bin the events into {self.timesteps} frames, or build the network with "
                    f"timesteps={inputs.shape[1]}"
                )
        elif inputs.dim() != 4:
            raise ConfigError(
                f"this network (preset {p.name}) takes static images [B, C, H, W]; got a {inputs.dim()}-D batch "
                f"{list(inputs.shape)}: event frames need a frames preset (e.g. digits-dvs)"
            )

    def _forward_reference(self, inputs: Iterable[torch.Tensor]) -> torch.Tensor:
        acc: torch.Tensor | float = 0.0
        for x in inputs:  # one stem output per timestep
            x = self.cell1.step(x)
            x = self.downconv1(x)
            x = self.resdownsample1(x)
            x = self.cell2.step(x)
            x = self.last_act(x)
            x = self.resdownsample2(x)
            x = self.classifier(x.flatten(1))
            acc = acc + self.boost(x.unsqueeze(1)).squeeze(1)
        return acc / self.timesteps

    def _forward_fast(self, x0: torch.Tensor, static: bool) -> torch.Tensor:
        """``x0``: the stem's output, ``[B, ...]`` fed at every step (``static``) or ``[T, B, ...]``."""
        steps = self.timesteps
        # in eval mode the last step's feedback feeds nothing and updates no statistics
        keep = self.training or not self.skip_unused_feedback
        x = self.cell1.run(x0, steps, static=static, keep_last_feedback=keep)
        x = run_seq(self.downconv1, x)
        x = seq_map(self.resdownsample1, x)
        x = self.cell2.run(x, steps, static=False, keep_last_feedback=keep)
        x = run_seq(self.last_act, x)
        x = seq_map(self.resdownsample2, x)
        x = run_seq(self.classifier, x.flatten(2))
        scores = seq_map(self.boost, x.unsqueeze(2)).squeeze(2)
        acc = scores[0]
        for t in range(1, steps):  # step by step, as the original sums, so the rounding is the same
            acc = acc + scores[t]
        return acc / steps


def build_model(
    preset: str | Preset,
    arch: Architecture | str | Sequence[str],
    *,
    celltype: str | None = None,
    timesteps: int | None = None,
    second_avgpooling: int = 2,
    **overrides: object,
) -> SNASNet:
    """Build an SNASNet.

    ``preset``: a registered name (``cifar10``, ``cifar100``, ``tinyimagenet``, ``digits``, the frames presets
    ``digits-dvs``, ``nmnist``, ``dvsgesture``, ``cifar10dvs``) or a Preset.
    ``arch``: an Architecture, ``"0302 0030 3003 0000"`` or its four rows. ``celltype`` defaults to the
    Architecture's, else ``backward``. ``timesteps`` defaults to a frames preset's T, else 5.
    ``overrides``: Preset fields (``in_channels``, ``image_size``, ``num_classes``, ``channels``,
    ``classifier_width``, ``final_neurons``, ``stem_stride``, ``input``), LIF fields (``tau``, ``threshold``,
    ``v_reset``, ``detach_reset``, ``surrogate``), ``path`` and ``norm`` (``snasnet.network.norms``: what training
    normalises with; default ``step`` for static presets, the frames default for frames presets).
    """
    if isinstance(arch, Architecture):
        if celltype is not None and celltype != arch.celltype:
            arch = Architecture(arch.matrix, celltype)
    else:
        arch = Architecture.parse(arch, celltype or "backward")
    lif_fields = {f.name for f in fields(LIFConfig)}
    lif_kw = {k: overrides.pop(k) for k in list(overrides) if k in lif_fields}
    path = str(overrides.pop("path", "fast"))
    norm = overrides.pop("norm", None)
    resolved = get_preset(preset, **overrides)
    steps = timesteps if timesteps is not None else resolved.model_timesteps
    lif = LIFConfig(**lif_kw)
    return SNASNet(arch, resolved, steps, second_avgpooling, lif, path, None if norm is None else str(norm))


def model_from_config(config: dict, **changes: object) -> SNASNet:
    """Rebuild a network from ``SNASNet.config()``; ``changes`` may set timesteps or path. Configs written before
    the normalisation was recorded trained with ``step`` (the only one there was)."""
    try:
        arch = Architecture.parse(config["arch"], config["celltype"])
        preset = Preset(**config["preset"])
        lif = LIFConfig(**config.get("lif", {}))
        timesteps = int(changes.pop("timesteps", None) or config["timesteps"])
        pooling = int(config["second_avgpooling"])
        norm = str(config.get("norm", STEP))
    except (KeyError, TypeError) as exc:
        raise ConfigError(f"incomplete model configuration ({exc})") from None
    except (ValueError, OverflowError) as exc:  # "timesteps": "five", a pooling of 1e400
        raise ConfigError(f"malformed model configuration ({exc})") from None
    return SNASNet(arch, preset, timesteps, pooling, lif, str(changes.pop("path", "fast")), norm)

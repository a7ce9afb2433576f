"""Synaptic operations (SOPs) and dense multiply-accumulates (MACs) of a forward pass, counted by forward hooks on
every convolution and linear layer from what each one receives (DESIGN.md: the cost of a candidate). The energy
report (``exporters.energy``) prices these counts; a search counts them during the pass that scores a candidate.

- **spikes** (every value 0 or 1, checked on every call): each input spike costs one SOP (an accumulate) per
  synapse it reaches: a convolution's fan-out is (output positions whose window covers the spike's position,
  exact at the borders and for any stride) x output channels / groups; a linear layer's is its output features.
  Spikingjelly's ``SynOpCounter`` counts the same (tests/test_energy.py checks it).
- **pooled spikes**: the first classifier layer receives the last LIF's spikes average-pooled (k x k). Pooling
  then a linear layer is one linear layer on the unpooled spikes (weights / k^2), so each spike under a pooling
  window costs that layer's output features in SOPs (spikes cut off by the pooling's floor cost nothing).
- **events**: a frames network's stem receives event counts (``snasnet.data.events``: events per pixel, polarity
  and time bin); each event costs its fan-out in SOPs as a spike does, so a pixel with n events costs n times that
  (checked: whole non-negative numbers on every call, else analog).
- **analog** values (the stem on a static image, or anything else that is not spikes): no SOPs, dense MACs.

A layer right after a dropout is counted on the dropout's input: in train mode (a search scores in train mode)
dropout zeroes and rescales what the layer receives, which no deployed network does.

    with CostCounter(model) as counter:
        model(images)
    counter.cost()            # Cost(sops=..., macs=..., params=...), per image
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from spikingjelly.activation_based import layer as sj_layer
from torch import nn

from snasnet.network.model import SNASNet
from snasnet.network.neuron import is_lif

SPIKES, POOLED, EVENTS, ANALOG = "spikes", "pooled spikes", "events", "analog"
_DROPOUTS = (nn.Dropout, sj_layer.Dropout)
_INTEGER_SLACK = 1e-4  # how far from an integer a pooled spike count may be after float averaging


def conv_fanout(conv: nn.Conv2d, height: int, width: int) -> torch.Tensor:
    """[H, W]: how many output positions of ``conv`` each input position feeds (per output channel of its
    group). Separable: rows and columns are counted apart and multiplied."""

    def per_axis(size: int, k: int, stride: int, pad: int, dilation: int) -> torch.Tensor:
        out = (size + 2 * pad - dilation * (k - 1) - 1) // stride + 1
        counts = torch.zeros(size, dtype=torch.float64)
        for o in range(out):
            for j in range(k):
                i = o * stride - pad + j * dilation
                if 0 <= i < size:
                    counts[i] += 1
        return counts

    if isinstance(conv.padding, str):
        raise ValueError(f"string padding {conv.padding!r} is not supported")
    rows = per_axis(height, conv.kernel_size[0], conv.stride[0], conv.padding[0], conv.dilation[0])
    cols = per_axis(width, conv.kernel_size[1], conv.stride[1], conv.padding[1], conv.dilation[1])
    return rows[:, None] * cols[None, :]


def feeding_lif(model: nn.Module) -> dict[str, str | None]:
    """Which LIF layer's spikes each convolution and linear layer receives (None: not a LIF's output, e.g.
    the image): the LIF just before it in its ``nn.Sequential``; for an SNASNet's first classifier layer,
    the last LIF (``last_act``), whose spikes reach it through pooling, flatten and dropout."""
    feeds: dict[str, str | None] = {}
    for parent, module in model.named_modules():
        if not isinstance(module, nn.Sequential):
            continue
        children = list(module.named_children())
        prefix = f"{parent}." if parent else ""
        for (prev_name, prev), (name, child) in zip([(None, None), *children], children, strict=False):
            if isinstance(child, (nn.Conv2d, nn.Linear)):
                feeds[prefix + name] = prefix + prev_name if is_lif(prev) else None
    if isinstance(model, SNASNet):
        names = {m: n for n, m in model.named_modules()}
        feeds[names[model.classifier[1]]] = names[model.last_act[1]]
    return feeds


def pooling_areas(model: nn.Module) -> dict[str, int]:
    """The k*k of the pooling between a LIF and a layer: an SNASNet's second average pooling, before its
    classifier."""
    if not isinstance(model, SNASNet):
        return {}
    names = {m: n for n, m in model.named_modules()}
    return {names[model.classifier[1]]: model.second_avgpooling**2}


def event_inputs(model: nn.Module) -> set[str]:
    """The layers that receive a frames network's input, its event counts: an SNASNet's stem convolution."""
    if not isinstance(model, SNASNet) or not model.preset.takes_frames:
        return set()
    names = {m: n for n, m in model.named_modules()}
    return {names[model.stem[0]]}


def _after_dropout(model: nn.Module) -> dict[nn.Module, nn.Module]:
    """Each convolution or linear layer that comes right after a dropout in an ``nn.Sequential``: the dropout."""
    found = {}
    for module in model.modules():
        if isinstance(module, nn.Sequential):
            children = list(module.children())
            for prev, child in zip(children, children[1:], strict=False):
                if isinstance(child, (nn.Conv2d, nn.Linear)) and isinstance(prev, _DROPOUTS):
                    found[child] = prev
    return found


def _are_counts(events: torch.Tensor, whole: bool) -> bool:
    """Every value is 0 or 1 (spikes), or (``whole``: pooled spikes, event counts) a whole number of them (up to
    float rounding)."""
    if not whole:
        return bool(((events == 0) | (events == 1)).all())
    return bool(((events - events.round()).abs() <= _INTEGER_SLACK).all() and (events >= 0).all())


@dataclass
class LayerCounts:
    """Operations of one convolution or linear layer, summed over every call and image seen."""

    name: str
    kind: str  # "conv" or "linear"
    input: str = SPIKES  # what it received on every call: spikes, pooled spikes, events or analog
    source: str | None = None  # the LIF layer whose spikes it receives
    pool_area: int = 1  # k*k of a pooling between the spikes and this layer
    image_steps: int = 0  # calls x batch: (image, timestep) pairs
    input_sum: float = 0.0  # sum of the input values (spikes, or pooled spikes x area)
    input_numel: int = 0
    sops: float = 0.0  # synaptic operations (valid while the input is spikes)
    macs: int = 0  # dense multiply-accumulates of every call (outputs x fan-in)
    outputs: int = 0  # output values of every call (with input_numel: the sizes of the energy model's buffers)
    params: int = 0  # the layer's weights and biases
    bias: bool = False
    _spatial: torch.Tensor | None = field(default=None, repr=False)  # conv: input spikes per position


class SynapticCounter:
    """Counts the synaptic operations and dense MACs of every convolution and linear layer of ``model`` (any
    module) from what they receive, with forward hooks, until ``finish()``. ``sources`` (default
    ``feeding_lif``) names the LIF feeding each layer (None: analog input); ``pool_areas`` the k*k of a
    pooling between them (default: ``pooling_areas(model)``). ``check_spikes`` False takes what a LIF feeds for
    spikes without looking at every value (the check is most of the counting's cost; a LIF emits 0 or 1)."""

    def __init__(
        self,
        model: nn.Module,
        sources: dict[str, str | None] | None = None,
        pool_areas: dict[str, int] | None = None,
        check_spikes: bool = True,
    ) -> None:
        self.check_spikes = check_spikes
        sources = feeding_lif(model) if sources is None else sources
        areas = pooling_areas(model) if pool_areas is None else pool_areas
        events = event_inputs(model)
        self.counts: dict[nn.Module, LayerCounts] = {}
        for name, module in model.named_modules():
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                kind = "conv" if isinstance(module, nn.Conv2d) else "linear"
                params = sum(p.numel() for p in module.parameters(recurse=False))
                counts = LayerCounts(name, kind, source=sources.get(name), params=params, bias=module.bias is not None)
                area = areas.get(name, 1)
                if name in events:
                    counts.input = EVENTS
                elif counts.source is None:
                    counts.input = ANALOG
                elif area > 1:
                    counts.input, counts.pool_area = POOLED, area
                self.counts[module] = counts
        self._dropout_input: dict[nn.Module, torch.Tensor] = {}
        self.handles = [m.register_forward_hook(self._hook) for m in self.counts]
        for layer, dropout in _after_dropout(model).items():
            if layer in self.counts:
                self.handles.append(dropout.register_forward_hook(self._keep_input(layer)))

    def _keep_input(self, layer: nn.Module):
        def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
            self._dropout_input[layer] = inputs[0].detach()

        return hook

    def _hook(self, module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        x = self._dropout_input.pop(module, None)
        x = inputs[0].detach() if x is None else x.reshape(inputs[0].shape)
        c = self.counts[module]
        c.image_steps += x.shape[0]
        c.input_numel += x.numel()
        fan_in = module.in_features if isinstance(module, nn.Linear) else module.weight[0].numel()
        c.macs += output.numel() * fan_in
        c.outputs += output.numel()
        events = x if c.pool_area == 1 else x.double() * c.pool_area
        if c.input != ANALOG and self.check_spikes and not _are_counts(events, c.input in (POOLED, EVENTS)):
            c.input = ANALOG  # not spikes after all: priced as dense MACs
        if c.input == ANALOG or isinstance(module, nn.Linear):
            c.input_sum += float(x.sum(dtype=torch.float64))
            if c.input != ANALOG:
                c.sops += float(events.sum(dtype=torch.float64)) * module.out_features
            return
        # spikes into a convolution: per input position, summed over images, steps and channels; float32 adds
        # these integers exactly below 2**24 and is much faster than float64 on a CPU
        exact = torch.float32 if x.shape[0] * x.shape[1] < 2**24 else torch.float64
        spatial = x.sum(dim=(0, 1), dtype=exact).double()
        c.input_sum += float(spatial.sum())
        c._spatial = spatial if c._spatial is None else c._spatial + spatial

    def finish(self) -> list[LayerCounts]:
        """Stop counting; the counts of every layer, synaptic operations summed over all calls."""
        for h in self.handles:
            h.remove()
        self.handles = []
        for module, c in self.counts.items():
            if isinstance(module, nn.Conv2d) and c.input != ANALOG and c._spatial is not None:
                fanout = conv_fanout(module, *c._spatial.shape) * (module.out_channels // module.groups)
                c.sops = float((c._spatial * fanout).sum())
            if c.input == ANALOG:
                c.sops = 0.0
            c._spatial = None
        return list(self.counts.values())


@dataclass(frozen=True)
class Cost:
    """What a network costs per image: synaptic operations (spike inputs), dense MACs (every convolution and
    linear layer as if its input were dense, all calls) and parameters."""

    sops: float
    macs: float
    params: int

    def to_dict(self) -> dict:
        return {"sops": self.sops, "macs": self.macs, "params": self.params}


class CostCounter:
    """The ``Cost`` of the forward passes run while it is entered (a ``SynapticCounter`` and an image count)."""

    def __init__(self, model: nn.Module) -> None:
        self.model = model
        self.images = 0
        self._counter: SynapticCounter | None = None
        self._layers: list[LayerCounts] = []
        self._handle = None

    def __enter__(self) -> CostCounter:
        # a search's networks: every layer fed by a LIF receives its 0/1 spikes (tests/test_synops.py checks it)
        self._counter = SynapticCounter(self.model, check_spikes=False)
        self._handle = self.model.register_forward_pre_hook(self._count_images)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._counter is not None:
            self._layers = self._counter.finish()
            self._counter = None
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _count_images(self, module: nn.Module, args: tuple) -> None:
        if args and isinstance(args[0], torch.Tensor):
            self.images += args[0].shape[0]

    @property
    def layers(self) -> list[LayerCounts]:
        return self._layers

    def cost(self) -> Cost:
        """Per image, over every image seen (after leaving the ``with`` block)."""
        images = self.images or 1
        return Cost(
            sops=sum(c.sops for c in self._layers) / images,
            macs=sum(c.macs for c in self._layers) / images,
            params=sum(p.numel() for p in self.model.parameters()),
        )

"""Batch norms and the output group average folded into the layers before them, for deployment graphs.

In eval mode a batch norm is a per-channel affine map ``y = x * scale + shift``. After a convolution it
folds into the convolution's weights and bias (exact up to float rounding); before a LIF neuron it cannot
fold into a convolution (the LIF's input is a sum of edges, skips included), so graphs keep it as an
affine map (ONNX) or move it into the neuron's parameters (NIR). The output neurons' group average is a
linear map after the last linear layer, so it folds into that layer's rows.
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def fold_conv_bn(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> nn.Conv2d:
    """A new convolution (with bias) computing ``bn(conv(x))`` in eval mode."""
    with torch.no_grad():  # on copies: fusing needs eval mode, and the model's modes are not ours to change
        return fuse_conv_bn_eval(copy.deepcopy(conv).eval(), copy.deepcopy(bn).eval())


def bn_affine(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """``(scale, shift)`` per channel with ``bn(x) == x * scale + shift`` in eval mode."""
    with torch.no_grad():
        scale = torch.rsqrt(bn.running_var + bn.eps)
        if bn.weight is not None:
            scale = scale * bn.weight
        shift = -bn.running_mean * scale
        if bn.bias is not None:
            shift = shift + bn.bias
    return scale.detach().clone(), shift.detach().clone()


def fold_group_average(linear: nn.Linear, group: int) -> nn.Linear:
    """A linear layer computing the average of each ``group`` consecutive outputs of ``linear`` (the
    original's ``AvgPool1d(group, group)`` over the output neurons), as one layer."""
    if linear.out_features % group:
        raise ValueError(f"{linear.out_features} outputs do not split into groups of {group}")
    classes = linear.out_features // group
    folded = nn.Linear(linear.in_features, classes, bias=linear.bias is not None)
    with torch.no_grad():
        folded.weight.copy_(linear.weight.view(classes, group, -1).mean(1))
        if linear.bias is not None:
            folded.bias.copy_(linear.bias.view(classes, group).mean(1))
    return folded

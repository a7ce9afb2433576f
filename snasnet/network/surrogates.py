"""Surrogate gradients of the LIF spike by name (registry); the paper uses ATan."""

from __future__ import annotations

from spikingjelly.activation_based import surrogate

from snasnet.core.registry import Registry

SURROGATES: Registry[type[surrogate.SurrogateFunctionBase]] = Registry("surrogate")
SURROGATES.add("atan", surrogate.ATan)
SURROGATES.add("sigmoid", surrogate.Sigmoid)

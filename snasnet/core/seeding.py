"""Seeds derived from a run's seed, and the random number generators' state as plain data.

Training draws every random number it needs from a seed derived from (run seed, what, where): the data
order of an epoch, the augmentation of one image in one epoch, the dropout masks of one step on one rank.
So a run interrupted anywhere and resumed draws exactly what an uninterrupted one draws, whichever
DataLoader worker loads an image.
"""

from __future__ import annotations

import hashlib
import random

import numpy as np
import torch


def derive_seed(*parts: object) -> int:
    """A 62-bit seed that depends on every part (hashed: nearby parts give unrelated streams). 62 bits leave
    room for DistributedSampler, which adds the epoch to its seed."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2**62 - 1)


def rng_state() -> dict:
    """The torch (CPU and CUDA), numpy and Python generators' state as tensors and plain data, so that a
    checkpoint holding it loads with ``torch.load(weights_only=True)``."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {
            "kind": kind,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached": float(cached),
        },
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
    }


def set_rng_state(state: dict) -> None:
    """Restore what ``rng_state`` returned (CUDA states only where this machine has as many devices)."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    n = state["numpy"]
    np.random.set_state(
        (n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached"])  # type: ignore[arg-type]
    )
    p = state["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))

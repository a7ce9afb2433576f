"""Running under ``torchrun``: process-group set-up and the few collectives jobs need (torch.distributed).

Without torchrun (no ``WORLD_SIZE`` > 1 in the environment) everything here is a single-process no-op,
so job code is the same either way.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from snasnet.core.device import resolve_device
from snasnet.core.runs import default_run_dir


@dataclass(frozen=True)
class DistEnv:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device: str | torch.device = "auto") -> tuple[DistEnv, torch.device]:
    """Join torchrun's process group when launched by it (NCCL on CUDA, gloo on CPU); each rank gets its
    local GPU. Returns the environment and this process's device."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    resolved = resolve_device(device)
    if world <= 1:
        return DistEnv(), resolved
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if resolved.type == "cuda":
        resolved = torch.device("cuda", local)
        torch.cuda.set_device(resolved)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if resolved.type == "cuda" else "gloo")
    return DistEnv(rank, world, local), resolved


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def gather_objects(obj: object, env: DistEnv) -> list[object]:
    """Every rank's ``obj``, in rank order, on every rank."""
    if not env.enabled:
        return [obj]
    out: list[object] = [None] * env.world_size
    dist.all_gather_object(out, obj)
    return out


def broadcast_object(obj: object, env: DistEnv, src: int = 0) -> object:
    """Rank ``src``'s ``obj`` on every rank."""
    if not env.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]


def shared_run_dir(run_dir: str | os.PathLike | None, job: str, env: DistEnv) -> Path:
    """A job's run directory, the same on every rank: rank 0's ``run_dir``, or its default
    ``runs/<job>-<time>`` (which each rank would take from its own clock, a second apart or more)."""
    return Path(broadcast_object(str(run_dir or default_run_dir(job)) if env.is_main else None, env))


def all_reduce_sum(tensor: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum over ranks, in place."""
    if env.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()

"""The order training reads its data in: DistributedSampler's seeded permutation per epoch, resumable
part-way through an epoch."""

from __future__ import annotations

from collections.abc import Iterator

from torch.utils.data import Dataset, DistributedSampler

from snasnet.core.distributed import DistEnv


class EpochSampler(DistributedSampler):
    """DistributedSampler (an epoch's permutation seeded by seed + epoch; this rank's share) that can begin
    part-way through the epoch, at ``start`` samples, for a resumed run."""

    def __init__(self, dataset: Dataset, env: DistEnv, seed: int) -> None:
        super().__init__(dataset, num_replicas=env.world_size, rank=env.rank, shuffle=True, seed=seed)
        self.start = 0

    def __iter__(self) -> Iterator[int]:
        indices = list(super().__iter__())
        return iter(indices[self.start :])

    def __len__(self) -> int:
        return max(0, self.num_samples - self.start)

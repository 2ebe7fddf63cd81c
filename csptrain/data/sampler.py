"""A sampler whose order depends only on (seed, epoch), and which can start mid-epoch."""

from __future__ import annotations

import torch
from torch.utils.data import Sampler


class EpochSampler(Sampler[int]):
    """Shuffled indices of one epoch, sharded over ``world`` ranks, from position ``start``.

    ``start`` counts samples already seen by this rank in this epoch, which is how an
    interrupted run resumes exactly where it stopped.
    """

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.size, self.seed, self.rank, self.world = size, seed, rank, world
        self.epoch, self.start = 0, 0

    def set_position(self, epoch: int, start: int) -> None:
        self.epoch, self.start = epoch, start

    def _order(self) -> list[int]:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        per_rank = self.size // self.world
        return order[self.rank * per_rank : (self.rank + 1) * per_rank]

    def __iter__(self):
        return iter(self._order()[self.start :])

    def __len__(self) -> int:
        return self.size // self.world - self.start

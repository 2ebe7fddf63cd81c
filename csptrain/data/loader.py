"""Batches for training: an exact, resumable order over epochs, sharded over DDP ranks."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ConfigError, UserError
from .sampler import EpochSampler


def steps_per_epoch(size: int, batch_size: int, world: int, split: str) -> int:
    """Full batches per epoch over ``world`` ranks; one-line error if there is not even one."""
    steps = size // (batch_size * world)
    if steps == 0:
        raise ConfigError(f"{split}: {size} images are fewer than one batch of {batch_size} x {world} ranks")
    return steps


def batches_from(
    step: int,
    dataset: Dataset,
    batch_size: int,
    per_epoch: int,
    workers: int,
    seed: int,
    device: torch.device,
    rank: int = 0,
    world: int = 1,
) -> Iterator[Any]:
    """Batches on ``device`` from ``step`` on, in the order an uninterrupted run sees them.

    The order depends on (seed, epoch) only and ``dataset.epoch`` is set for each epoch,
    so a resumed run continues exactly. Each batch is the dataset's record type (a
    :mod:`~csptrain.data.batches` TypedDict) with every tensor moved to ``device``.
    """
    sampler = EpochSampler(len(dataset), seed, rank, world)  # type: ignore[arg-type]
    while True:
        epoch, offset = divmod(step, per_epoch)
        dataset.epoch = epoch  # type: ignore[attr-defined]
        sampler.set_position(epoch, offset * batch_size)
        # Its own generator: a DataLoader iterator otherwise draws from the global RNG, which
        # would shift the random stream of a resumed run.
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=workers,
            drop_last=True,
            pin_memory=device.type == "cuda",
            generator=torch.Generator().manual_seed(epoch),
        )
        for batch in without_worker_traceback(loader):
            yield {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            step += 1


def without_worker_traceback(loader: DataLoader) -> Iterator[Any]:
    """Iterate ``loader``; a user error raised in a worker comes back with its own one-line message.

    PyTorch re-raises a worker's exception with the worker's traceback in its message.
    """
    try:
        yield from loader
    except UserError as error:
        text = str(error)
        if "Original Traceback" not in text:
            raise
        raise type(error)(text.strip().splitlines()[-1].split(": ", 1)[-1]) from None

"""Gradient accumulation: the paper's global batch on fewer processes than it used."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import ConfigError


@dataclass(frozen=True)
class BatchPlan:
    """How one optimisation step's batch is made: processes x per-process batch x accumulated micro-batches."""

    per_process: int
    processes: int
    accumulate: int

    @property
    def global_batch(self) -> int:
        return self.per_process * self.processes * self.accumulate

    def describe(self) -> str:
        return (
            f"{self.processes} process(es) x {self.per_process} per process x {self.accumulate} accumulated"
            f" = global batch {self.global_batch}"
        )


def batch_plan(per_process: int, processes: int, accumulate: int | None, paper_batch: int | None) -> BatchPlan:
    """The plan for ``processes``: ``accumulate`` micro-batches, or as many as the paper's global batch needs.

    Raises :class:`ConfigError` when the paper's batch cannot be kept (it is not a multiple
    of ``per_process`` x ``processes``) and no ``accumulate`` was given.
    """
    if accumulate is None:
        if paper_batch is None or paper_batch <= per_process * processes:
            accumulate = 1
        elif paper_batch % (per_process * processes):
            raise ConfigError(
                f"the paper's global batch {paper_batch} is not a multiple of {per_process} per process x "
                f"{processes} processes; pass --accumulate N (or another --batch-size)"
            )
        else:
            accumulate = paper_batch // (per_process * processes)
    if accumulate < 1:
        raise ConfigError(f"--accumulate must be >= 1, got {accumulate}")
    return BatchPlan(per_process, processes, accumulate)


def backward_over(
    forward: torch.nn.Module, micro_batches: Sequence[Any], losses: Callable[[Any], dict[str, torch.Tensor]]
) -> dict[str, torch.Tensor]:
    """Backward of the mean loss over ``micro_batches``; returns each term's mean (detached).

    The gradients equal those of one batch holding them all (for models without batch
    statistics); under DDP they are all-reduced once, with the last micro-batch.
    """
    count = len(micro_batches)
    means: dict[str, torch.Tensor] = {}
    for index, batch in enumerate(micro_batches):
        defer = index < count - 1 and isinstance(forward, torch.nn.parallel.DistributedDataParallel)
        with forward.no_sync() if defer else nullcontext():  # type: ignore[operator]
            terms = losses(batch)
            loss: torch.Tensor = sum(terms.values()) / count  # type: ignore[assignment]  # never empty
            loss.backward()
        for name, value in terms.items():
            means[name] = means.get(name, 0) + value.detach() / count
    return means

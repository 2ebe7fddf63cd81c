"""The device, this process's place in a (possibly single-process) torchrun job, and what ranks share."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import cast

import numpy as np
import torch
import torch.distributed as dist

from ..errors import ConfigError


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present; a one-line :class:`ConfigError` for a device this machine lacks."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"--device: unknown device {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name}: no CUDA device on this machine (use cpu or auto)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    return device


@dataclass(frozen=True)
class Process:
    """This process's place in a (possibly single-process) DDP job.

    ``owns_group``: this process joined the job itself, so it also leaves it; a stage run
    inside ``csptrain run`` finds the pipeline's group and leaves it to the pipeline.
    """

    device: torch.device
    rank: int = 0
    world: int = 1
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def bf16(self) -> bool:
        """bf16 autocast is used on CUDA only."""
        return self.device.type == "cuda"


def start_process(device_name: str, seed: int | None = None) -> Process:
    """Join the torchrun job when ``WORLD_SIZE`` > 1 (otherwise a single process); seed torch per rank."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(device_name)
    owns_group = False
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
            owns_group = True
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    if seed is not None:
        torch.manual_seed(seed + rank)
    return Process(device, rank, world, owns_group)


def end_process(process: Process) -> None:
    if process.owns_group and dist.is_initialized():
        dist.destroy_process_group()


@contextmanager
def joined(device_name: str, seed: int | None = None) -> Iterator[Process]:
    """:func:`start_process`, and :func:`end_process` however the block ends."""
    process = start_process(device_name, seed)
    try:
        yield process
    finally:
        end_process(process)


def barrier(process: Process) -> None:
    """Wait until every rank is here (what one rank wrote, the others may read after it)."""
    if process.world > 1:
        dist.barrier()


def any_rank(flag: bool, process: Process) -> bool:
    """Whether ``flag`` holds on any rank; every rank gets the same answer."""
    if process.world == 1:
        return flag
    value = torch.tensor([int(flag)], device=process.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item())


def sum_over_ranks(array: np.ndarray, process: Process) -> np.ndarray:
    """The element-wise sum of ``array`` (integers) over every rank."""
    if process.world == 1:
        return array
    total = torch.from_numpy(np.ascontiguousarray(array, dtype=np.int64)).to(process.device)
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    return total.cpu().numpy()


def distributed(
    model: torch.nn.Module, process: Process, *, compile: bool = False, find_unused_parameters: bool = False
) -> torch.nn.Module:
    """The module that runs the training forward: ``model``, compiled if asked, in DDP when several processes."""
    forward = cast(torch.nn.Module, torch.compile(model)) if compile else model
    if process.world > 1:
        ids = [process.device.index] if process.device.type == "cuda" else None
        forward = torch.nn.parallel.DistributedDataParallel(
            forward, device_ids=ids, find_unused_parameters=find_unused_parameters
        )
    return forward

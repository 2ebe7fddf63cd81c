"""The device, this process's place in a (possibly single-process) torchrun job, and what ranks share.

The one owner of both: a command (or ``csptrain run``) resolves its ``--device`` and joins
the job once, with :func:`joined`, and passes the :class:`Process` to every stage; the
block leaves the job however it ends, a stage that fails before its loop included.
"""

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
    """This process's place in a (possibly single-process) DDP job, on its device.

    Made by :func:`joined` (or, for one process on a known device, directly).
    """

    device: torch.device
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def bf16(self) -> bool:
        """bf16 autocast is used on CUDA only."""
        return self.device.type == "cuda"

    def seed_torch(self, seed: int) -> None:
        """Seed torch for a stage's run: ``seed`` plus the rank, so that ranks draw differently."""
        torch.manual_seed(seed + self.rank)


def on_device(device_name: str) -> Process:
    """One process outside any job on ``device_name`` resolved: a trained model used as a tool."""
    return Process(pick_device(device_name))


@contextmanager
def joined(device_name: str) -> Iterator[Process]:
    """Resolve ``device_name`` and join the torchrun job (``WORLD_SIZE`` > 1); leave it however the block ends.

    A process group that is already there (a caller's) is used and left to that caller.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(device_name)
    owns_group = False
    if world > 1:
        if not dist.is_initialized():
            _init_group("nccl" if device.type == "cuda" else "gloo", rank, world)
            owns_group = True
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    try:
        yield Process(device, rank, world)
    finally:
        if owns_group and dist.is_initialized():
            dist.destroy_process_group()


def _init_group(backend: str, rank: int, world: int) -> None:
    """Join the job's default process group, its store keys under this torchrun restart's own prefix.

    torchrun's agent keeps one store for every restart of the group; ``init_process_group``
    alone would key every restart the same, and a rank of a restarted group could read
    the address of a rank that died with the last one (gloo: "connectFullMesh failed").
    """
    store, _, _ = next(dist.rendezvous("env://", rank, world))
    restart = os.environ.get("TORCHELASTIC_RESTART_COUNT", "0")
    dist.init_process_group(
        backend, store=dist.PrefixStore(f"csptrain/restart{restart}", store), rank=rank, world_size=world
    )


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

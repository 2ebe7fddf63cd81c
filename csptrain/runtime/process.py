"""The device and this process's place in a (possibly single-process) torchrun job."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import cast

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
    """This process's place in a (possibly single-process) DDP job."""

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


def start_process(device_name: str, seed: int) -> Process:
    """Join the torchrun job when ``WORLD_SIZE`` > 1 (otherwise a single process); seed torch per rank."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(device_name)
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    torch.manual_seed(seed + rank)
    return Process(device, rank, world)


def end_process(process: Process) -> None:
    if process.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


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

"""What both trainers share: device and DDP setup, atomic checkpoints, logging."""

from __future__ import annotations

import itertools
import json
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from scribblesim.sets.files import json_bytes, write_bytes_atomic

from .data.sampler import EpochSampler
from .errors import ConfigError, RunFolderError, StopRequested, UserError, WeightsError

CHECKPOINT = "last.pt"
PROGRESS = "progress.json"


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


def start_process(device_name: str) -> Process:
    """Join the torchrun job when ``WORLD_SIZE`` > 1; otherwise a single process."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(device_name)
    if world > 1:
        if not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    return Process(device, rank, world)


def end_process(process: Process) -> None:
    if process.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def save_atomic(state: dict, path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a killed run never leaves half a file."""
    path = Path(path)
    temp = path.with_name(f".{path.name}.tmp")
    torch.save(state, temp)
    os.replace(temp, path)


def write_json_atomic(path: Path, value) -> None:
    """JSON to a temporary file, then rename (scribblesim's canonical JSON)."""
    write_bytes_atomic(Path(path), json_bytes(value))


def load_checkpoint(path: Path) -> dict:
    """A checkpoint written by csptrain; one-line :class:`WeightsError` if it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for corrupt files
        raise WeightsError(f"{path}: unreadable checkpoint ({type(error).__name__})") from None
    if not isinstance(state, dict) or "model" not in state or "config" not in state:
        raise WeightsError(f"{path}: not a csptrain checkpoint")
    return state


def load_weights(path: Path) -> dict:
    """A state dict file (e.g. ImageNet weights); one-line :class:`WeightsError` if unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path}: weights file not found") from None
    except Exception as error:
        raise WeightsError(f"{path}: unreadable weights file ({type(error).__name__})") from None


def save_checkpoint(
    out: Path,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    stop: int,
    config,
    num_classes: int,
    last: dict | None = None,
) -> None:
    """``out/last.pt`` (weights, optimiser, step, RNG, config) and its ``progress.json`` sidecar.

    The sidecar also keeps the last step's numbers (``last``), which a rerun of a
    finished run reports.
    """
    save_atomic(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "torch_rng": torch.get_rng_state(),
            "config": config.to_dict(),
            "num_classes": num_classes,
        },
        Path(out) / CHECKPOINT,
    )
    write_json_atomic(Path(out) / PROGRESS, {"step": step, "stop": stop, "last": last or {"step": step}})


#: Settings that may change when a run resumes: they do not change what is learnt.
RESUMABLE_CHANGES = frozenset(
    {"max_steps", "device", "workers", "bf16", "checkpoint_every", "compile", "channels_last", "eval_base_size"}
)


def record_config(out: Path, settings: dict, resuming: bool, reconfigure: bool = False) -> None:
    """Write ``out/config.json``; on resume, refuse changed settings unless ``reconfigure``.

    Raises a one-line :class:`RunFolderError` naming the changed settings (``--max-steps``,
    ``--device`` and other :data:`RESUMABLE_CHANGES` may always change).
    """
    path = Path(out) / "config.json"
    recorded = read_json_or_none(path) if resuming else None
    if recorded is not None and not reconfigure:
        changed = sorted(
            k
            for k in settings.keys() | recorded.keys()
            if k not in RESUMABLE_CHANGES and settings.get(k) != recorded.get(k)
        )
        if changed:
            details = ", ".join(f"{k} {recorded.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            raise RunFolderError(
                f"{out}: this run was started with other settings ({details}); "
                "rerun with the same ones, use another --out, or pass --reconfigure"
            )
    write_json_atomic(path, settings)


class StopOnSignal:
    """Turn the first SIGINT or SIGTERM into a request the training loop answers at a step boundary.

    A second signal interrupts at once. Outside the main thread it does nothing.
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict = {}

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for signum in (signal.SIGINT, signal.SIGTERM):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


def resume(out: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer) -> int:
    """Load ``out/last.pt`` into the model, optimiser and torch RNG; return its step (0 without one)."""
    if not (Path(out) / CHECKPOINT).is_file():
        return 0
    state = load_checkpoint(Path(out) / CHECKPOINT)
    try:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
    except (RuntimeError, ValueError, KeyError):
        raise WeightsError(f"{Path(out) / CHECKPOINT}: does not fit this model; use another --out") from None
    torch.set_rng_state(state["torch_rng"])
    return state["step"]


def run_training(
    out: Path,
    step: int,
    stop: int,
    batches,
    take_step: Callable[[dict, int], dict],
    save: Callable[[int, dict], None],
    save_after: Callable[[int], bool],
) -> tuple[int, dict | None]:
    """The training loop both stages share: steps up to ``stop``, checkpoints, and stops on signals.

    ``take_step(batch, step)`` trains on one batch and returns the step's numbers;
    ``save(step, numbers)`` writes a checkpoint, after every step where ``save_after(step)``
    holds and after the last. The first SIGINT or SIGTERM ends the loop at the next step
    boundary, saves, and raises :class:`StopRequested`.

    Returns
    -------
    (step, numbers)
        The step reached and its numbers (``None`` when no step was left to run).
    """
    last, saved = None, step
    with StopOnSignal() as signals:
        try:
            for batch in itertools.islice(batches, max(0, stop - step)):
                last = take_step(batch, step)
                step += 1
                if save_after(step):
                    save(step, last)
                    saved = step
                if signals.requested:
                    break
        except Exception:
            if not signals.requested:  # e.g. DataLoader workers that the signal ended too
                raise
    if last is not None and saved != step:
        save(step, last)
    if signals.requested:
        raise StopRequested(out, step)
    return step, last


def steps_per_epoch(size: int, batch_size: int, world: int, split: str) -> int:
    """Full batches per epoch over ``world`` ranks; one-line error if there is not even one."""
    steps = size // (batch_size * world)
    if steps == 0:
        raise ConfigError(f"{split}: {size} images are fewer than one batch of {batch_size} x {world} ranks")
    return steps


def batches_from(
    step: int, dataset: Dataset, batch_size: int, per_epoch: int, workers: int, seed: int, process: Process
):
    """Batches on the device from ``step`` on, in the order an uninterrupted run sees them.

    The order depends on (seed, epoch) only and ``dataset.epoch`` is set for each epoch,
    so a resumed run continues exactly.
    """
    sampler = EpochSampler(len(dataset), seed, process.rank, process.world)
    while True:
        epoch, offset = divmod(step, per_epoch)
        dataset.epoch = epoch
        sampler.set_position(epoch, offset * batch_size)
        # Its own generator: a DataLoader iterator otherwise draws from the global RNG, which
        # would shift the random stream of a resumed run.
        loader = DataLoader(
            dataset,
            batch_size=batch_size,
            sampler=sampler,
            num_workers=workers,
            drop_last=True,
            pin_memory=process.device.type == "cuda",
            generator=torch.Generator().manual_seed(epoch),
        )
        for batch in _without_worker_traceback(loader):
            yield {k: v.to(process.device, non_blocking=True) for k, v in batch.items()}
            step += 1


def _without_worker_traceback(loader: DataLoader):
    """Iterate ``loader``; a data error raised in a worker comes back with its own one-line message.

    PyTorch re-raises a worker's exception with the worker's traceback in its message.
    """
    try:
        yield from loader
    except UserError as error:
        text = str(error)
        if "Original Traceback" not in text:
            raise
        raise type(error)(text.strip().splitlines()[-1].split(": ", 1)[-1]) from None


def read_json_or_none(path: Path):
    """The JSON in ``path``, or None if it is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def read_progress(run: Path) -> dict:
    """``{"step": .., "stop": .., "last": {..}}`` of a run folder, or ``{}`` before its first checkpoint.

    A small sidecar of ``last.pt``, so that a pipeline can tell a finished step without
    loading a checkpoint of hundreds of megabytes.
    """
    return read_json_or_none(Path(run) / PROGRESS) or {}


class TrainLog:
    """TensorBoard scalars and a progress bar, on the main process only."""

    def __init__(self, out: Path, process: Process, total: int, initial: int, desc: str, progress: bool) -> None:
        self.writer = None
        if process.is_main:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(Path(out) / "tensorboard")
        self.bar = tqdm(
            total=total, initial=initial, unit="step", desc=desc, disable=None if progress and process.is_main else True
        )  # None: only on a terminal

    def step(self, step: int, values: dict[str, float], **postfix: float) -> None:
        if self.writer is not None:
            for key, value in values.items():
                self.writer.add_scalar(f"train/{key}", value, step)
        self.bar.set_postfix({k: f"{v:.3g}" for k, v in postfix.items()})
        self.bar.update(1)

    def close(self) -> None:
        self.bar.close()
        if self.writer is not None:
            self.writer.close()

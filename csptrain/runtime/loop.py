"""The step loop both stages share: checkpoints on a schedule, a clean stop on SIGINT or SIGTERM, the log."""

from __future__ import annotations

import itertools
import signal
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from ..errors import StopRequested
from ..runs import TrainingRun
from .process import Process


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


def run_training(
    out: Path,
    step: int,
    stop: int,
    batches: Iterable[Any],
    take_step: Callable[[Any, int], dict],
    save: Callable[[int, dict], None],
    save_after: Callable[[int], bool],
    agree: Callable[[bool], bool] = bool,
) -> tuple[int, dict | None]:
    """The training loop both stages share: steps up to ``stop``, checkpoints, and stops on signals.

    ``take_step(batch, step)`` trains on one batch and returns the step's numbers;
    ``save(step, numbers)`` writes a checkpoint, after every step where ``save_after(step)``
    holds and after the last. ``agree(requested)`` tells whether any rank of a DDP job saw a
    stop request (every rank asks after every step, so all stop at the same one). The
    first SIGINT or SIGTERM ends the loop at the next step
    boundary, saves, and raises :class:`StopRequested`.

    Returns
    -------
    (step, numbers)
        The step reached and its numbers (``None`` when no step was left to run).
    """
    last, saved, stopping = None, step, False
    with StopOnSignal() as signals:
        try:
            for batch in itertools.islice(batches, max(0, stop - step)):
                last = take_step(batch, step)
                step += 1
                stopping = agree(signals.requested)
                if save_after(step) or stopping:
                    save(step, last)
                    saved = step
                if stopping:
                    break
        except Exception:
            if not signals.requested:  # e.g. DataLoader workers that the signal ended too
                raise
            stopping = True
    if last is not None and saved != step:
        save(step, last)
    if stopping:
        raise StopRequested(out, step)
    return step, last


class TrainLog:
    """TensorBoard scalars and a progress bar, on the main process only."""

    def __init__(self, run: TrainingRun, process: Process, total: int, initial: int, desc: str, progress: bool) -> None:
        self.writer = None
        if process.is_main:
            from torch.utils.tensorboard import SummaryWriter

            # A resumed run hides what a killed one logged after its checkpoint (steps > initial),
            # so its curves read as one uninterrupted run's.
            self.writer = SummaryWriter(run.tensorboard, purge_step=initial + 1 if initial else None)
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

"""A time budget as a step count: a short probe times a row's steps, the schedule is laid over them."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from csptrain.stage2.config import Stage2Config
from csptrain.stage2.train import stage2_schedule

#: Steps timed by the probe after two that warm up (loader start, first allocations).
PROBE_STEPS = 8


def probe_seconds_per_step(train: Callable[[Path, int], object], run: Path) -> float:
    """Seconds per step of a training function, data loading included, from a throwaway run.

    Parameters
    ----------
    train
        ``train(run, stop)`` trains (or resumes) the run in ``run`` up to step ``stop``.
    run
        A folder for the throwaway run.

    Returns
    -------
    float
        Seconds per step over :data:`PROBE_STEPS` steps after two warm-up steps.
    """
    train(run, 2)
    started = time.perf_counter()
    train(run, 2 + PROBE_STEPS)
    return (time.perf_counter() - started) / PROBE_STEPS


def budget_config(config: Stage2Config, steps: int, images: int) -> Stage2Config:
    """A stage-2 config with a schedule of about ``steps`` steps.

    Parameters
    ----------
    config
        The row's config.
    steps
        The steps the budget affords.
    images
        Training images (they set the steps of an epoch).

    Returns
    -------
    Stage2Config
        ``config`` with whole epochs, a tenth of them warm-up, stopped after ``steps`` steps.
    """
    per_epoch = stage2_schedule(config, images, 1, "train").micro_batches_per_epoch
    epochs = max(1, math.ceil(steps / per_epoch))
    return replace(config, epochs=epochs, warmup_epochs=round(epochs / 10), max_steps=min(steps, epochs * per_epoch))

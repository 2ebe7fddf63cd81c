"""A time budget as a step count: a short probe times a row's steps, the schedule is laid over them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from csptrain.stage2.config import Stage2Config

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


def budget_config(config: Stage2Config, steps: int) -> Stage2Config:
    """A stage-2 config whose schedule is ``steps`` steps long.

    Parameters
    ----------
    config
        The row's config.
    steps
        The steps the budget affords.

    Returns
    -------
    Stage2Config
        ``config`` with a schedule of ``steps`` steps (not whole epochs): its first
        ``warmup_epochs / epochs`` (a tenth in the presets) warm up and the rate reaches 0 at
        the last step, whatever the number of steps.
    """
    return replace(config, iterations=steps, max_steps=None)

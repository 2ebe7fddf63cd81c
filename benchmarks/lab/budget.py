"""A time budget as a step count: a short probe times a row's steps and starts, the schedule is laid over them."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from csptrain.stage2.config import Stage2Config

#: Steps of the probe's shorter timed call (its longer one trains twice as many) by default.
PROBE_STEPS = 8


@dataclass(frozen=True)
class StepCost:
    """What training costs: seconds per (re)start of a training call, and per step.

    A row trains in several calls (one per point of its learning curve), each of which
    starts a loader and reads the checkpoint; a budget pays for those starts too.
    """

    start_s: float
    step_s: float

    def steps_for(self, budget_s: float, starts: int = 1) -> int:
        """The steps ``budget_s`` seconds buy when trained in ``starts`` calls (at least 1)."""
        return max(1, int((budget_s - starts * self.start_s) / self.step_s))


def probe_step_cost(train: Callable[[Path, int], object], run: Path, steps: int = PROBE_STEPS) -> StepCost:
    """A training function's cost, data loading included, from a throwaway run.

    After two steps that warm up (first allocations), one call trains ``steps`` steps and
    the next twice as many: the difference of their times is the steps' cost, the
    rest the start of a call (timing a single short call counted its start as steps, and a
    budget of them ran 7-12 % short).

    Parameters
    ----------
    train
        ``train(run, stop)`` trains (or resumes) the run in ``run`` up to step ``stop``.
    run
        A folder for the throwaway run.
    steps
        Steps of the shorter timed call.

    Returns
    -------
    StepCost
    """
    train(run, 2)
    timed = []
    for stop in (2 + steps, 2 + 3 * steps):
        started = time.perf_counter()
        train(run, stop)
        timed.append(time.perf_counter() - started)
    # Noise in the difference must never make steps nearly free (and a budget of them
    # endless): a step costs at least a quarter of what the longer call took per step.
    step_s = max((timed[1] - timed[0]) / steps, timed[1] / (8 * steps), 1e-6)
    return StepCost(start_s=max(0.0, timed[0] - steps * step_s), step_s=step_s)


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
    return replace(config, iterations=steps)

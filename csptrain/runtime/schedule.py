"""Learning-rate schedules: stage 2 warm-up + cosine (paper V-A), stage 1 warm-up + poly (ToCo)."""

from __future__ import annotations

import math


def lr_at(step: int, base_lr: float, total_steps: int, warmup_steps: int) -> float:
    """Learning rate of optimisation step ``step`` (0-based); a pure function, so resumes are exact.

    Linear warm-up to ``base_lr`` over ``warmup_steps``, then a cosine that reaches 0 at the
    last step (``total_steps - 1``).
    """
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - 1 - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_steps_for(total_steps: int, epochs: int, warmup_epochs: int) -> int:
    """Warm-up length: the same fraction of the run as ``warmup_epochs`` of ``epochs``."""
    return min(total_steps, round(total_steps * min(warmup_epochs, epochs) / epochs))


def poly_warmup_multiplier(
    step: int, total_steps: int, warmup_steps: int, warmup_ratio: float = 1e-6, power: float = 0.9
) -> float:
    """ToCo's ``PolyWarmupAdamW`` factor of the base learning rate at ``step`` (0-based).

    Linear from ``warmup_ratio`` to 1 over ``warmup_steps``, then (1 - step / total) ** power.
    """
    if step < warmup_steps:
        return 1 - (1 - step / warmup_steps) * (1 - warmup_ratio)
    return max(0.0, 1 - step / total_steps) ** power

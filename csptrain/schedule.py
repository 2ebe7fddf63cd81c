"""Learning-rate schedule: linear warm-up, then cosine annealing to zero (paper V-A)."""

from __future__ import annotations

import math


def lr_at(step: int, base_lr: float, total_steps: int, warmup_steps: int) -> float:
    """Learning rate of optimisation step ``step`` (0-based); a pure function, so resumes are exact."""
    if step < warmup_steps:
        return base_lr * (step + 1) / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return base_lr * 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_steps_for(total_steps: int, epochs: int, warmup_epochs: int) -> int:
    """Warm-up length: the same fraction of the run as ``warmup_epochs`` of ``epochs``."""
    return min(total_steps, round(total_steps * min(warmup_epochs, epochs) / epochs))

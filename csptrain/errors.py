"""csptrain's user errors (under :mod:`scribblesim.errors`) and its stop request; no torch needed.

Both command lines print a :class:`~scribblesim.errors.UserError` as one line and exit 2.
"""

from __future__ import annotations

from pathlib import Path

from scribblesim.errors import ConfigError, DatasetError, UserError

__all__ = ["ConfigError", "DataError", "RunFolderError", "StopRequested", "UserError", "WeightsError"]


class DataError(DatasetError):
    """Training or evaluation data that cannot be used: a build, a scribble or pseudo-label file."""


class WeightsError(UserError):
    """A checkpoint or weights file that is missing, unreadable, or does not fit the model."""


class RunFolderError(UserError):
    """A run folder that holds another run's work (other settings, other pseudo-labels)."""


class StopRequested(Exception):
    """Training stopped on SIGINT or SIGTERM after saving its checkpoint (exit status 130)."""

    def __init__(self, out: Path, step: int) -> None:
        super().__init__(f"{out}: interrupted at step {step}, checkpoint saved; rerun the same command to resume")
        self.step = step

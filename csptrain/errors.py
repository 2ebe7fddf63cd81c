"""Errors that csptrain's commands turn into one line and an exit status (no torch needed)."""

from __future__ import annotations

from pathlib import Path

from scribblesim.datasets.base import DatasetError

#: A user-facing problem with the training data; the message names the path.
DataError = DatasetError


class StopRequested(Exception):
    """Training stopped on SIGINT or SIGTERM after saving its checkpoint (exit status 130)."""

    def __init__(self, out: Path, step: int) -> None:
        super().__init__(f"{out}: interrupted at step {step}, checkpoint saved; rerun the same command to resume")
        self.step = step

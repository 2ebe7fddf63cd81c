"""Reading local weight files (nothing is ever downloaded)."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import WeightsError


def load_weights(path: Path) -> dict:
    """A state dict file (e.g. ImageNet weights); one-line :class:`WeightsError` if unreadable."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise WeightsError(f"{path}: weights file not found") from None
    except Exception as error:
        raise WeightsError(f"{path}: unreadable weights file ({type(error).__name__})") from None

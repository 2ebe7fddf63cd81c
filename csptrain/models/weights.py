"""Reading local weight files (nothing is ever downloaded, and no file's code is ever run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ..errors import WeightsError


def load_safely(path: Path, what: str) -> Any:
    """``torch.load(path, weights_only=True)``: tensors and plain data, never a file's code.

    A pickle that holds any other Python object is refused before any of it is built.
    Raises a one-line :class:`WeightsError` that calls the file ``what`` when it is
    unreadable, and says so when it is refused.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many types for corrupt files
        # Code runs from a pickle only through a global (a function or class) that it names; the
        # restricted unpickler refuses every one it does not allow, and names it in its message
        # ("unsupported GLOBAL ...", "Unsupported class ..." in older torch). Corrupt bytes fail otherwise.
        message = str(error).lower()
        if "global" in message or "unsupported class" in message:
            raise WeightsError(
                f"{path}: refused: it holds Python objects other than tensors and plain data, "
                "and loading them could run code"
            ) from None
        raise WeightsError(f"{path}: unreadable {what} ({type(error).__name__})") from None


def load_weights(path: Path) -> dict:
    """The tensors of a local weights file (e.g. ImageNet weights), read without running code.

    ``.safetensors`` files are read by safetensors, any other file by :func:`load_safely`.
    Raises a one-line :class:`WeightsError` if the file is missing, unreadable or refused.
    """
    path = Path(path)
    if not path.is_file():
        raise WeightsError(f"{path}: weights file not found")
    if path.suffix != ".safetensors":
        return load_safely(path, "weights file")
    from safetensors.torch import load_file

    try:
        return load_file(path, device="cpu")
    except Exception as error:  # safetensors raises its own SafetensorError and OSError
        raise WeightsError(f"{path}: unreadable weights file ({type(error).__name__})") from None

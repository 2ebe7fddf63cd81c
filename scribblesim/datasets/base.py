"""What every dataset adapter produces."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


class DatasetError(Exception):
    """A user-facing problem with a dataset: its message names the file or argument."""


@dataclass(frozen=True)
class LoadedSample:
    """One image's decoded annotations, ready for :func:`scribblesim.simulate`.

    Attributes
    ----------
    name : str
        File stem used for output files (e.g. ``000000000030``).
    image_id : int or str
        Key of the image's random streams.
    masks : ndarray of bool, shape (N, H, W)
        Instances to scribble, in painting order.
    classes : ndarray of int, shape (N,)
        Contiguous class id of each instance.
    ignore : ndarray of bool, shape (H, W)
        Pixels that get no scribble and are not background (e.g. crowd regions).
    semantic : ndarray of uint8, shape (H, W)
        Dense ground truth, 255 = ignore.
    image_path : Path or None
        The image file, if any.
    """

    name: str
    image_id: int | str
    masks: np.ndarray
    classes: np.ndarray
    ignore: np.ndarray
    semantic: np.ndarray
    image_path: Path | None

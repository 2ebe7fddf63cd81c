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


def read_png(path: Path) -> np.ndarray:
    """Read a label or id PNG as an integer array; :class:`DatasetError` names the file if unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            return np.asarray(image)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DatasetError(f"{path}: unreadable PNG ({error})") from None


def masks_from_ids(ids: np.ndarray, values: list[int]) -> np.ndarray:
    """(N, H, W) boolean masks ``ids == value`` for each value."""
    if not values:
        return np.zeros((0, *ids.shape), dtype=bool)
    return ids[None, :, :] == np.asarray(values)[:, None, None]

"""Analysis grids: look at a large mask on a coarser grid to bound the work per mask."""

from __future__ import annotations

import math

import numpy as np
from skimage.measure import block_reduce


def work_factor(shape: tuple[int, int], max_pixels: int | None) -> int:
    """Integer down-sampling factor so that ``shape`` holds at most ``max_pixels``."""
    if max_pixels is None:
        return 1
    return max(1, math.ceil(math.sqrt(shape[0] * shape[1] / max_pixels)))


def coarsen(mask: np.ndarray, factor: int, *, conservative: bool) -> np.ndarray:
    """Down-sample a boolean mask by an integer factor.

    ``conservative=True`` keeps a coarse cell only when all its pixels are set (the coarse
    mask never covers what the fine one does not); otherwise a cell is set when any of
    its pixels is (thin parts survive).
    """
    if factor == 1:
        return mask
    reduce = np.all if conservative else np.any
    return block_reduce(mask, (factor, factor), reduce, cval=False)


def to_fine(points: np.ndarray, factor: int) -> np.ndarray:
    """Map coarse-grid coordinates (either axis order) to fine pixel coordinates.

    Cell ``i`` covers fine pixels ``i*factor .. i*factor + factor - 1``; it maps to their centre.
    """
    return points * factor + (factor - 1) / 2.0

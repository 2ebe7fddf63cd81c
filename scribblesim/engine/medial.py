"""The medial axis of scikit-image, without its per-call set-up.

``skimage.morphology.medial_axis`` rebuilds its 512-entry lookup table (about a
thousand ``ndimage.label`` calls, ~12 ms) on every call and orders the pixels with a
three-key ``lexsort``. Here the table is built once, the cornerness (background pixels
around each pixel) comes from sums of shifted arrays, and the same order (distance, then
cornerness, then a seeded random tie-breaker) comes from stable integer sorts.
The thinning itself is scikit-image's compiled loop, so the result is exactly
``medial_axis(mask, rng=rng)``; the tests check that.
"""

from __future__ import annotations

from functools import cache

import numpy as np
from scipy import ndimage
from skimage.morphology import medial_axis as _skimage_medial_axis

try:  # scikit-image's compiled kernels; without them, fall back to the public function
    from skimage.morphology._skeletonize import _skeletonize_loop
except ImportError:  # pragma: no cover - depends on the installed scikit-image
    _skeletonize_loop = None

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def _pattern(index: int) -> np.ndarray:
    """The 3x3 neighbourhood coded by ``index`` (bit k = pixel k in row-major order)."""
    return ((index >> np.arange(9)) & 1).astype(bool).reshape(3, 3)


@cache
def _keep_table() -> np.ndarray:
    """Whether thinning keeps the centre of each 3x3 neighbourhood, as scikit-image defines it."""
    keep = np.zeros(512, dtype=np.uint8)
    for index in range(512):
        pattern = _pattern(index)
        if not pattern[1, 1]:
            continue
        without = pattern.copy()
        without[1, 1] = False
        splits = ndimage.label(pattern, _EIGHT_CONNECTED)[1] != ndimage.label(without, _EIGHT_CONNECTED)[1]
        keep[index] = splits or pattern.sum() < 3
    return keep


def _cornerness(image: np.ndarray) -> np.ndarray:
    """Background pixels in each pixel's 3x3 neighbourhood: scikit-image's cornerness table."""
    padded = np.pad(image, 1).astype(np.uint8)
    rows = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
    return 9 - (rows[:-2] + rows[1:-1] + rows[2:])


def _smallest_unsigned(values: np.ndarray) -> np.ndarray:
    # NumPy's stable sort is a radix sort for 16-bit keys and a merge sort above.
    top = int(values.max(initial=0))
    return values.astype(np.uint16 if top < 2**16 else np.uint32 if top < 2**32 else np.uint64)


def _thinning_order(distance: np.ndarray, corner: np.ndarray, tiebreaker: np.ndarray) -> np.ndarray:
    """``np.lexsort((tiebreaker, corner, distance))`` for a permutation ``tiebreaker``."""
    order = np.empty_like(tiebreaker)
    order[tiebreaker] = np.arange(tiebreaker.size)  # sorting a permutation inverts it
    order = order[np.argsort(corner[order], kind="stable")]
    return order[np.argsort(_smallest_unsigned(distance)[order], kind="stable")]


def medial_axis(mask: np.ndarray, rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Medial axis of a 2-D boolean mask; identical to ``skimage.morphology.medial_axis``.

    Parameters
    ----------
    mask : (H, W) array
        Non-zero pixels are the shape.
    rng : numpy.random.Generator or int, optional
        Breaks ties in the order pixels are thinned, as in scikit-image.

    Returns
    -------
    (H, W) bool array
    """
    image = np.asarray(mask, dtype=bool)
    if _skeletonize_loop is None or min(image.shape) < 3:
        return _skimage_medial_axis(image, rng=rng)
    keep = _keep_table()
    nearest = ndimage.distance_transform_edt(image, return_distances=False, return_indices=True)
    rows, cols = np.nonzero(image)
    # Squared distances to the nearest background pixel are integers, and sorting them
    # sorts the distances.
    distance = (nearest[0][rows, cols] - rows) ** 2 + (nearest[1][rows, cols] - cols) ** 2
    corner = _cornerness(image)[rows, cols]
    tiebreaker = np.random.default_rng(rng).permutation(np.arange(rows.size))
    order = _thinning_order(distance, corner, tiebreaker).astype(np.int32)
    result = np.ascontiguousarray(image, np.uint8)
    _skeletonize_loop(result, rows.astype(np.intp), cols.astype(np.intp), order, keep)
    return result.astype(bool)

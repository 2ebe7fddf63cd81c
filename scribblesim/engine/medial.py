"""The medial axis of scikit-image, without its per-call set-up.

``skimage.morphology.medial_axis`` rebuilds its 512-entry lookup table (about a
thousand ``ndimage.label`` calls) on every call and orders the pixels with a three-key
``lexsort``. Here the table is built once, the cornerness (background pixels
around each pixel) comes from sums of shifted arrays, and the same order (distance, then
cornerness, then a seeded random tie-breaker) comes from stable integer sorts. The
distances come from OpenCV's exact distance transform, the faster one.
The thinning itself is scikit-image's compiled loop, so the result is exactly
``medial_axis(mask, rng=rng)``; the tests check that.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
from functools import cache
from pathlib import Path

import cv2
import numpy as np

from .grid import framed
from .kernels import EXACT_SQUARED_DISTANCE_BELOW, label8

#: Squared distances below this are ranked through a lookup table of that many entries.
_RANKED_DISTANCES_BELOW = 2**20
#: The modules that hold scikit-image's compiled thinning loop: since 0.25, and before.
_LOOP_MODULES = ("skimage.morphology._skeletonize_various_cy", "skimage.morphology._skeletonize_cy")


@cache
def _thinning_loop():
    """scikit-image's compiled thinning loop, or None where this scikit-image lacks it.

    The extension module is loaded from its file: importing it by name first runs
    ``skimage.morphology``'s package, which imports all of ``scipy.ndimage`` and
    ``scipy.spatial`` (half a second of every build command's start-up) for nothing here.
    """
    for name in _LOOP_MODULES:
        if name in sys.modules and hasattr(sys.modules[name], "_skeletonize_loop"):
            return sys.modules[name]._skeletonize_loop
    package = importlib.util.find_spec("skimage")
    locations = package.submodule_search_locations if package is not None else None
    for name in _LOOP_MODULES if locations else ():
        stem = name.rsplit(".", 1)[1]
        files = [Path(locations[0]) / "morphology" / (stem + s) for s in importlib.machinery.EXTENSION_SUFFIXES]
        path = next((f for f in files if f.is_file()), None)
        if path is not None:
            loader = importlib.machinery.ExtensionFileLoader(name, str(path))
            spec = importlib.util.spec_from_file_location(name, path, loader=loader)
            if spec is not None:
                module = importlib.util.module_from_spec(spec)
                loader.exec_module(module)
                loop = getattr(module, "_skeletonize_loop", None)
                if loop is not None:
                    return loop
    try:  # pragma: no cover - another scikit-image layout: the usual import
        from skimage.morphology._skeletonize import _skeletonize_loop
    except ImportError:  # pragma: no cover - no compiled loop: the public function
        return None
    return _skeletonize_loop


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
        splits = label8(pattern)[1] != label8(without)[1]
        keep[index] = splits or pattern.sum() < 3
    return keep


def _cornerness(image: np.ndarray) -> np.ndarray:
    """Background pixels in each pixel's 3x3 neighbourhood: scikit-image's cornerness table."""
    padded = framed(image, np.uint8)
    rows = padded[:, :-2] + padded[:, 1:-1] + padded[:, 2:]
    return 9 - (rows[:-2] + rows[1:-1] + rows[2:])


def _smallest_unsigned(values: np.ndarray) -> np.ndarray:
    # NumPy's stable sort is a radix sort for 16-bit keys and a merge sort above.
    top = int(values.max(initial=0))
    return values.astype(np.uint16 if top < 2**16 else np.uint32 if top < 2**32 else np.uint64)


def _thinning_order(distance: np.ndarray, corner: np.ndarray, tiebreaker: np.ndarray) -> np.ndarray:
    """``np.lexsort((tiebreaker, corner, distance))`` for a permutation ``tiebreaker``.

    ``distance`` holds non-negative integers, ``corner`` integers 0..9.
    """
    order = np.empty_like(tiebreaker)
    order[tiebreaker] = np.arange(tiebreaker.size)  # sorting a permutation inverts it
    top = int(distance.max(initial=0))
    if top < _RANKED_DISTANCES_BELOW:
        # One 16-bit key (the distance's rank among those present, then the corner)
        # sorts in one radix pass where two would be needed.
        present = np.zeros(top + 1, dtype=np.int32)
        present[distance] = 1
        rank = np.cumsum(present, dtype=np.int32) - 1
        if int(rank[-1]) * 10 + 9 < 2**16:
            key = (rank * 10)[distance].astype(np.uint16) + corner.astype(np.uint16)
            return order[np.argsort(key[order], kind="stable")]
    order = order[np.argsort(corner[order], kind="stable")]
    return order[np.argsort(_smallest_unsigned(distance)[order], kind="stable")]


def _squared_distances(image: np.ndarray, flat: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Squared distance from each set pixel to the nearest unset pixel, as integers.

    The pixels are given twice: as flat indices and as ``(rows, cols)``.
    """
    distance = cv2.distanceTransform(image.view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE).ravel()[flat]
    squared = np.square(distance, dtype=np.float64)
    if squared.max(initial=0) < EXACT_SQUARED_DISTANCE_BELOW:
        return np.rint(squared).astype(np.int64)
    from scipy import ndimage  # rare: distances beyond ~1,450 px

    nearest = ndimage.distance_transform_edt(image, return_distances=False, return_indices=True)
    return (nearest[0][rows, cols] - rows) ** 2 + (nearest[1][rows, cols] - cols) ** 2


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
    image = np.ascontiguousarray(mask, dtype=bool)
    thinning_loop = _thinning_loop()
    if thinning_loop is None or min(image.shape) < 3 or image.all():
        from skimage.morphology import medial_axis as skimage_medial_axis

        return skimage_medial_axis(image, rng=rng)
    keep = _keep_table()
    # Flat indices, and rows and columns from them: cheaper than np.nonzero's pair and
    # its two-dimensional gathers.
    flat = np.flatnonzero(image)
    rows, cols = np.divmod(flat, image.shape[1])
    # Squared distances to the nearest background pixel are integers, and sorting them
    # sorts the distances.
    distance = _squared_distances(image, flat, rows, cols)
    corner = _cornerness(image).ravel()[flat]
    # permutation(n) draws what scikit-image's permutation(np.arange(n)) draws, without the copy
    tiebreaker = np.random.default_rng(rng).permutation(flat.size)
    order = _thinning_order(distance, corner, tiebreaker).astype(np.int32)
    result = image.astype(np.uint8)
    thinning_loop(result, rows.astype(np.intp, copy=False), cols.astype(np.intp, copy=False), order, keep)
    return result.view(bool)  # the loop only clears pixels: still 0 or 1

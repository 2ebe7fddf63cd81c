"""OpenCV's compiled kernels with scipy.ndimage's meaning, for the engine's hot paths.

Labelling, distance transforms and erosion run several times per object and image, and
OpenCV's kernels are the faster ones (docs/benchmarks.md, "Why the code is as it is"); the
build also skips scipy's import. Each function returns what its ``scipy.ndimage``
namesake does (the tests compare them).
"""

from __future__ import annotations

import cv2
import numpy as np


def label8(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """8-connected components: ``ndimage.label(mask, np.ones((3, 3)))``.

    Labels follow the raster order of each component's first pixel, whatever OpenCV's
    thread count: Wu's algorithm (SAUF) numbers them so, where the block-based ones do not.
    """
    count, labels = cv2.connectedComponentsWithAlgorithm(_uint8(mask), 8, cv2.CV_32S, cv2.CCL_WU)
    return labels, count - 1


def distance_to_unset(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest unset one: ``ndimage.distance_transform_edt``.

    Exact (OpenCV's precise mask), as float32. The image border is not an edge: pad the
    mask with unset pixels where it should be.
    """
    return cv2.distanceTransform(_uint8(mask), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)


def bounding_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Rows and columns of a mask's set pixels: ``ndimage.find_objects(mask)[0]``, None if empty."""
    left, top, width, height = cv2.boundingRect(_uint8(mask))
    return (slice(top, top + height), slice(left, left + width)) if width else None


def erode_square(mask: np.ndarray, size: int) -> np.ndarray:
    """Erosion by a ``size`` x ``size`` square, outside counting as unset.

    ``ndimage.minimum_filter(mask, size, mode="constant", cval=0)`` as a boolean mask.
    """
    kernel = np.ones((size, size), dtype=np.uint8)
    return cv2.erode(_uint8(mask), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0).view(bool)


def _uint8(mask: np.ndarray) -> np.ndarray:
    """A C-contiguous 0/1 uint8 view or copy of a mask, as OpenCV takes it."""
    mask = np.asarray(mask)
    if mask.dtype == bool:
        return np.ascontiguousarray(mask).view(np.uint8)
    return np.ascontiguousarray(mask != 0).view(np.uint8)

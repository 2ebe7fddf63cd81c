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


#: OpenCV's distances are float32: their squares round back to the exact integers below
#: this (measured error under 0.07 at 2**20, 0.18 at 1500**2); scipy's exact transform
#: takes over above it.
EXACT_SQUARED_DISTANCE_BELOW = 2**21


def distance_to_unset(mask: np.ndarray) -> np.ndarray:
    """Euclidean distance of every pixel to the nearest unset one: ``ndimage.distance_transform_edt``.

    Exact, as float32: the correctly rounded root of the exact integer squared distance.
    OpenCV's own float32 roots (its precise mask) can differ in the last bit between two
    calls on the same mask (OpenCV 5.1; its vectorised path depends on the buffers), which
    moved the pixels at an inset's threshold, and so strokes, from run to run. The image
    border is not an edge: pad the mask with unset pixels where it should be.
    """
    distance = cv2.distanceTransform(_uint8(mask), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    squared = np.rint(np.square(distance, dtype=np.float64))
    if squared.max(initial=0) >= EXACT_SQUARED_DISTANCE_BELOW:
        from scipy import ndimage  # rare: distances beyond ~1,450 px

        return ndimage.distance_transform_edt(np.asarray(mask) != 0).astype(np.float32)
    return np.sqrt(squared.astype(np.float32))


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

"""Boundary-style strokes: the random affine transformation of paper Section IV-B."""

from __future__ import annotations

import numpy as np
import shapely
from skimage.measure import find_contours

from .grid import framed
from .kernels import erode_square, label8


def eroded_contour(mask: np.ndarray, kernel: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Inflection points of the eroded mask's outer boundary, and its centroid.

    The mask is eroded with a ``kernel`` x ``kernel`` square (one pixel larger when
    ``kernel`` is even, so that it is centred and the contour is not shifted); the rest is
    :func:`outer_contour` with ``kernel`` as its spacing.

    Returns
    -------
    (points, centroid) or None
        ``points`` (M, 2) and ``centroid`` (2,) as (x, y) in the mask's pixel frame;
        ``None`` when erosion leaves nothing.
    """
    size = 2 * (kernel // 2) + 1
    return outer_contour(erode_square(mask, size), kernel)


def outer_contour(region: np.ndarray, spacing: float) -> tuple[np.ndarray, np.ndarray] | None:
    """Inflection points of the outer boundary of a region's largest component, and its centroid.

    The contour is simplified to inflection points (shapely, a tolerance of a quarter of
    ``spacing``, at least a pixel), and straight runs longer than ``spacing`` get
    intermediate points so that the jitter acts all along the boundary.

    Returns
    -------
    (points, centroid) or None
        As :func:`eroded_contour`; ``None`` for an empty region.
    """
    labels, count = label8(region)
    if count == 0:
        return None
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    component = labels == int(np.argmax(sizes))
    contours = find_contours(framed(component, np.float32), 0.5)
    outer = max(contours, key=len)[:, ::-1] - 1.0
    rows, cols = np.nonzero(component)
    centroid = np.array([cols.mean(), rows.mean()])
    if len(outer) < 4:
        return outer, centroid
    ring = shapely.LinearRing(outer).simplify(max(1.0, spacing / 4.0))
    ring = shapely.segmentize(ring, max_segment_length=float(spacing))
    points = np.asarray(ring.coords)[:-1]
    return (points if len(points) else outer), centroid


def radial_jitter(points: np.ndarray, centroid: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    """Move each point along its ray from ``centroid`` by delta ~ U[-amplitude, amplitude] (Eq. 21)."""
    offsets = points - centroid
    angles = np.arctan2(offsets[:, 1], offsets[:, 0])
    delta = rng.uniform(-amplitude, amplitude, size=len(points))
    return points + delta[:, None] * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def spiral_inwards(loop: np.ndarray, centroid: np.ndarray, shrink: float, rng: np.random.Generator) -> np.ndarray:
    """The closed ``loop`` (M, 2) opened at a random point into one turn of a spiral towards ``centroid``.

    The k-th of the M points (from the opening, along the loop, back to it) moves towards
    ``centroid`` by ``shrink * k / M`` of its distance, so the turn ends ``1 - shrink`` of
    the way out where it began.
    """
    opened = np.roll(loop, -int(rng.integers(len(loop))), axis=0)
    opened = np.concatenate([opened, opened[:1]])
    scale = 1.0 - shrink * np.linspace(0.0, 1.0, len(opened))
    return centroid + (opened - centroid) * scale[:, None]

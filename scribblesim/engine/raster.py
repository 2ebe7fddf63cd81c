"""Rasterise polylines into pixel sets."""

from __future__ import annotations

import math
from functools import cache

import numpy as np
import shapely

#: Longest step between the samples of a thick stroke: with every vertex sampled too,
#: distances to the samples differ from distances to the polyline by under 0.02 px.
_SAMPLE_SPACING = 0.5


def _densify(points: np.ndarray, spacing: float) -> np.ndarray:
    """The vertices of a polyline plus evenly spaced points on each segment, in order."""
    steps = np.diff(points, axis=0)
    pieces = np.maximum(1, np.ceil(np.linalg.norm(steps, axis=1) / spacing)).astype(np.int64)
    segment = np.repeat(np.arange(len(steps)), pieces)
    offset = np.arange(segment.size) - np.repeat(np.cumsum(pieces) - pieces, pieces)
    fraction = (offset / pieces[segment])[:, None]
    return np.concatenate([points[segment] + fraction * steps[segment], points[-1:]])


def _unique_in_bounds(rows: np.ndarray, cols: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    rows, cols = rows[inside], cols[inside]
    if rows.size == 0:
        return rows, cols
    # A canvas over the stroke's box instead of hashing: faster, and it keeps row-major order.
    top, left = rows.min(), cols.min()
    width = cols.max() - left + 1
    canvas = np.zeros((rows.max() - top + 1) * width, dtype=bool)
    canvas[(rows - top) * width + (cols - left)] = True
    found = np.flatnonzero(canvas)
    return found // width + top, found % width + left


def _thin_line(points: np.ndarray, connectivity: int) -> tuple[np.ndarray, np.ndarray]:
    from skimage.draw import line  # only 1-px strokes draw lines: its import pulls in scipy

    vertices = np.rint(points[:, ::-1]).astype(np.int64)
    keep = np.ones(len(vertices), dtype=bool)
    keep[1:] = np.any(vertices[1:] != vertices[:-1], axis=1)
    vertices = vertices[keep]
    # Bezier samples and skeleton paths are mostly 8-connected already; only gaps need lines.
    gaps = np.flatnonzero(np.abs(np.diff(vertices, axis=0)).max(axis=1, initial=0) > 1).tolist()
    pieces, start = [], 0
    for i in gaps:  # the path in order: each gap's line between its two vertices
        between = line(*vertices[i], *vertices[i + 1])
        pieces += [vertices[start : i + 1], np.stack(between, axis=1)[1:-1]]
        start = i + 1
    path = np.concatenate([*pieces, vertices[start:]])
    if connectivity == 4:
        # Each diagonal step gets the corner pixel across from it (column first), as a pen
        # that never crosses a pixel corner draws.
        diagonal = np.flatnonzero(np.all(np.diff(path, axis=0) != 0, axis=1))
        path = np.concatenate([path, np.stack([path[diagonal, 0], path[diagonal + 1, 1]], axis=1)])
    return path[:, 0], path[:, 1]


def _parts_near_image(points: np.ndarray, shape: tuple[int, int], margin: float) -> list[np.ndarray]:
    """The polyline itself if it stays within ``margin`` of the image, else its pieces clipped to that box.

    Clipping bounds the work by the image size: a point at 1e9 would otherwise mean
    billions of samples.
    """
    low, high_x, high_y = -margin, shape[1] - 1 + margin, shape[0] - 1 + margin
    x, y = points[:, 0], points[:, 1]
    if ((x >= low) & (x <= high_x) & (y >= low) & (y <= high_y)).all():
        return [points]
    if len(points) == 1 or not np.isfinite(points).all():
        return []
    clipped = shapely.clip_by_rect(shapely.LineString(points), low, low, high_x, high_y)
    return [np.asarray(part.coords) for part in shapely.get_parts(clipped) if not part.is_empty]


def brush_radius(width: int) -> float:
    """Radius of the round brush of a stroke ``width`` pixels thick (0 for a 1-px line)."""
    return 0.0 if width <= 1 else (width + 1) / 2.0


def stroke_pixels(
    points: np.ndarray, shape: tuple[int, int], width: int, connectivity: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Pixels covered by the polyline ``points`` drawn ``width`` pixels thick.

    Thickness follows OpenCV's ``cv2.polylines``: ``width=1`` is the 8-connected line
    through the vertices; a larger width covers every pixel whose centre lies within
    :func:`brush_radius` ``(width + 1) / 2`` of the polyline (round caps and joins), which
    labels as many pixels per unit of length as OpenCV does at that thickness (about
    ``width + 1`` pixels across).

    A 1-px line with ``connectivity=4`` also covers, at each diagonal step, the pixel
    across the corner, so that consecutive pixels share a side (about 1.3 pixels per
    pixel of length instead of 0.9).

    Parameters
    ----------
    points : ndarray, shape (M, 2)
        Polyline vertices as (x, y).
    shape : (int, int)
        Image (H, W); pixels outside it are dropped.
    width : int
        Stroke thickness in pixels.
    connectivity : {8, 4}
        Connectivity of a 1-px line (thicker strokes ignore it).

    Returns
    -------
    rows, cols : ndarray
        Unique covered pixels, in row-major order.
    """
    points = np.asarray(points, dtype=float)
    radius = brush_radius(width)
    parts = _parts_near_image(points, shape, radius + 1.0)
    if len(parts) != 1 or parts[0] is not points:
        found = [stroke_pixels(part, shape, width, connectivity) for part in parts]
        rows = np.concatenate([r for r, _ in found] + [np.empty(0, np.int64)])
        cols = np.concatenate([c for _, c in found] + [np.empty(0, np.int64)])
        return _unique_in_bounds(rows, cols, shape)
    if radius == 0.0:
        return _unique_in_bounds(*_thin_line(points, connectivity), shape)
    samples = _densify(points, _SAMPLE_SPACING)
    d_rows, d_cols = _brush_offsets(radius)
    centre_rows = np.rint(samples[:, 1])[:, None] + d_rows
    centre_cols = np.rint(samples[:, 0])[:, None] + d_cols
    near = (centre_cols - samples[:, :1]) ** 2 + (centre_rows - samples[:, 1:]) ** 2 <= radius**2
    return _unique_in_bounds(centre_rows[near].astype(np.int64), centre_cols[near].astype(np.int64), shape)


@cache
def _brush_offsets(radius: float) -> tuple[np.ndarray, np.ndarray]:
    """Offsets from a sample's nearest pixel to every pixel its brush can reach (read-only arrays).

    The sample lies within half a pixel of that pixel along each axis, so an offset
    ``d`` is reachable only if ``max(|d| - 0.5, 0)`` along both axes fits the radius.
    """
    reach = math.floor(radius + 0.5)
    d_rows, d_cols = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    gap = np.maximum(np.abs(d_rows) - 0.5, 0.0) ** 2 + np.maximum(np.abs(d_cols) - 0.5, 0.0) ** 2
    keep = gap <= radius**2
    offsets = d_rows[keep].astype(float)[None, :], d_cols[keep].astype(float)[None, :]
    for array in offsets:
        array.flags.writeable = False  # shared by every stroke of this width
    return offsets

"""Rasterise polylines into pixel sets."""

from __future__ import annotations

import numpy as np
from skimage.draw import line


def stroke_pixels(points: np.ndarray, shape: tuple[int, int], width: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixels covered by the polyline ``points`` drawn ``width`` pixels wide.

    Parameters
    ----------
    points : ndarray, shape (M, 2)
        Polyline vertices as (x, y).
    shape : (int, int)
        Image (H, W); pixels outside it are dropped.
    width : int
        Square brush side in pixels.

    Returns
    -------
    rows, cols : ndarray
        Unique covered pixels, in row-major order.
    """
    vertices = np.rint(points[:, ::-1]).astype(np.int64)
    keep = np.ones(len(vertices), dtype=bool)
    keep[1:] = np.any(vertices[1:] != vertices[:-1], axis=1)
    vertices = vertices[keep]
    # Bezier samples and skeleton paths are mostly 8-connected already; only gaps need lines.
    gaps = np.flatnonzero(np.abs(np.diff(vertices, axis=0)).max(axis=1, initial=0) > 1)
    segments = [line(*vertices[i], *vertices[i + 1]) for i in gaps.tolist()]
    rows = np.concatenate([vertices[:, 0]] + [s[0] for s in segments])
    cols = np.concatenate([vertices[:, 1]] + [s[1] for s in segments])
    offsets = np.arange(width) - (width - 1) // 2
    rows = (rows[:, None, None] + offsets[None, :, None]).repeat(width, axis=2).ravel()
    cols = (cols[:, None, None] + offsets[None, None, :]).repeat(width, axis=1).ravel()
    inside = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    flat = np.unique(rows[inside] * shape[1] + cols[inside])
    return flat // shape[1], flat % shape[1]

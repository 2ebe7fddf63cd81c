"""An annotator's hand on a line stroke: how much of the path it keeps, how far from the edge, how it wobbles or hatches.

Pure functions on (x, y) float paths in an object's crop. Each is the identity at its
:class:`~scribblesim.engine.config.SimConfig` default and then draws nothing from the
generator, so the paper's style is unchanged by their existence.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.ops import substring

from .smoothing import resample


def extend_path(path: np.ndarray, reach: float, rng: np.random.Generator) -> np.ndarray:
    """``path`` with both ends carried on straight for ``reach`` pixels, along their last ``reach`` of path.

    A hand overshoots the skeleton: a short one (a blob's) becomes a stroke across the
    object. A single point goes both ways in a random direction. The rasteriser clips
    what leaves the object.
    """
    if reach <= 0 or len(path) == 0:
        return path
    if len(path) == 1 or not np.any(np.ptp(path, axis=0)):
        angle = float(rng.uniform(0.0, math.pi))
        heading = np.array([math.cos(angle), math.sin(angle)])
        return np.stack([path[0] - reach * heading, path[0] + reach * heading])
    line = shapely.LineString(path)
    ends = []
    for stretch in (
        substring(line, 0.0, min(reach, line.length)),
        substring(line, max(0.0, line.length - reach), line.length),
    ):
        ends.append(np.array(stretch.coords, dtype=float))
    head, tail = ends[0][0] - ends[0][-1], ends[1][-1] - ends[1][0]
    start = path[0] + reach * head / max(np.linalg.norm(head), 1e-12)
    end = path[-1] + reach * tail / max(np.linalg.norm(tail), 1e-12)
    return np.concatenate([start[None], path, end[None]])


def _depth_along(path: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """``depth`` at the pixel of each (x, y) point of ``path`` (clamped to the crop)."""
    rows = np.clip(np.rint(path[:, 1]).astype(int), 0, depth.shape[0] - 1)
    cols = np.clip(np.rint(path[:, 0]).astype(int), 0, depth.shape[1] - 1)
    return depth[rows, cols]


def inset_path(path: np.ndarray, depth: np.ndarray, inset: float) -> np.ndarray:
    """The longest run of ``path``'s vertices at least ``inset`` x the inscribed radius deep.

    ``depth`` is the object's distance to its boundary per pixel (the crop's frame). When
    no vertex is deep enough, the deepest vertex alone.
    """
    if inset <= 0 or len(path) == 0:
        return path
    along = _depth_along(path, depth)
    deep = along >= inset * float(depth.max())
    if not deep.any():
        return path[[int(np.argmax(along))]]
    # the longest run of consecutive deep vertices
    edges = np.flatnonzero(np.diff(np.concatenate([[0], deep.astype(np.int8), [0]])))
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return path[starts[longest] : ends[longest]]


def keep_stretch(path: np.ndarray, share: float | None, position: str, rng: np.random.Generator) -> np.ndarray:
    """The stretch of ``path`` holding ``share`` of its arc length: centred, or at a random place."""
    if share is None or share >= 1 or len(path) < 2:
        return path
    line = shapely.LineString(path)
    total, kept = line.length, share * line.length
    start = (total - kept) / 2 if position == "centred" else float(rng.uniform(0.0, total - kept))
    return np.array(substring(line, start, start + kept).coords, dtype=float)


def _sideways(path: np.ndarray, spacing: float = 1.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``path`` resampled every ``spacing`` pixels, its unit normals and its arc length per point."""
    dense = resample(path, spacing)
    tangent = np.gradient(dense, axis=0)
    norm = np.linalg.norm(tangent, axis=1, keepdims=True)
    normal = np.where(norm > 0, tangent[:, ::-1] * np.array([-1.0, 1.0]) / np.maximum(norm, 1e-12), 0.0)
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(dense, axis=0), axis=1))])
    return dense, normal, arc


def wobble(path: np.ndarray, amplitude: float, wavelength: float, rng: np.random.Generator) -> np.ndarray:
    """``path`` displaced sideways by ``amplitude * sin(2 pi s / wavelength + phase)`` at arc length s.

    The phase is uniform; the path is first resampled every pixel so the wave is drawn.
    """
    if amplitude <= 0 or len(path) < 2:
        return path
    dense, normal, arc = _sideways(path)
    phase = float(rng.uniform(0.0, 2 * math.pi))
    return dense + amplitude * np.sin(2 * math.pi * arc / wavelength + phase)[:, None] * normal


def zigzag(
    path: np.ndarray, depth: np.ndarray, reach: float, wavelength: float, rng: np.random.Generator
) -> np.ndarray:
    """``path`` zigzagged sideways to ``reach`` x its local depth, one turn every ``wavelength / 2`` of arc.

    A hatching hand: the swing follows the object's width where the path runs (``depth``,
    its distance to the boundary per pixel in the crop's frame), so with ``reach`` < 1 the
    zigzag stays inside the object and fills it. The wave's phase is uniform; the path is
    resampled finely enough (eight points a wave) that every turn is drawn.
    """
    if reach <= 0 or len(path) < 2:
        return path
    dense, normal, arc = _sideways(path, min(1.0, wavelength / 8))
    phase = float(rng.uniform(0.0, 1.0))
    triangle = 2.0 * np.abs(2.0 * ((arc / wavelength + phase) % 1.0) - 1.0) - 1.0
    return dense + (reach * _depth_along(dense, depth) * triangle)[:, None] * normal

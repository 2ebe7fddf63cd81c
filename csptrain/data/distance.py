"""DPM distance maps (Eqs. 15 and 17), computed on the fly with OpenCV's exact EDT.

Eq. 15/17 truncate ``sqrt(exp(lam) * d^2) = exp(lam / 2) * d`` at 255 (floor, as the
authors stored the maps as uint8) and divide by 255. The truncation makes a map constant
from :func:`saturation_distance` on, so its values over a window of the image depend only
on the labels within that distance of the window: ``window`` computes just that part.
"""

from __future__ import annotations

import functools
import math

import cv2
import numpy as np

from scribblesim.engine.result import BACKGROUND

from .geometry import Window
from .labels import IGNORE

#: The 4-neighbour cross of scipy's default ``binary_erosion`` structure.
_CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))


def saturation_distance(lam: float) -> float:
    """Distance in pixels from which a map with scope ``lam`` is constant (``exp(lam / 2) * d >= 255``)."""
    return 255.0 / math.exp(lam / 2.0)


def _truncated(distance: np.ndarray, lam: float) -> np.ndarray:
    return np.minimum(np.floor(np.exp(lam / 2.0) * distance), 255.0) / 255.0


@functools.lru_cache(maxsize=16)
def _levels(lam: float, rising: bool) -> np.ndarray:
    """Map values (float32) at each integer squared distance up to saturation (the last entry).

    ``rising``: the truncated distance (d_c); else 1 minus it (d_s).
    """
    truncated = _truncated(np.sqrt(np.arange(math.ceil(saturation_distance(lam) ** 2) + 2)), lam)
    return (truncated if rising else 1.0 - truncated).astype(np.float32)


def _distance_map(points: np.ndarray, inner: Window, lam: float, rising: bool) -> np.ndarray:
    """The map over ``inner`` of the distance to the nearest of ``points`` (see :func:`_levels`).

    OpenCV's exact EDT returns the float32 root of the exact integer squared distance;
    squaring and rounding recovers that integer, whose map value is looked up: the values of
    scipy's float64 distances to the bit, floored alike.
    """
    levels = _levels(lam, rising)
    if not points.any():
        return np.full(inner.shape, levels[-1])
    distance = cv2.distanceTransform((~points).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[inner.slices]
    # float32 squares are exact to well within 0.5 below ~1,000 px (saturation distances of lam > -4)
    square = np.square(distance, dtype=np.float32 if len(levels) < 2**20 else np.float64)
    np.minimum(square, len(levels) - 1, out=square)
    return np.take(levels, np.rint(square, out=square).astype(np.intp))


def foreground_boundary(label: np.ndarray) -> np.ndarray:
    """Foreground pixels (not 0, not IGNORE) with a 4-neighbour outside the foreground.

    Outside the image counts as foreground (scipy's ``binary_erosion(border_value=1)``).
    """
    foreground = (label != BACKGROUND) & (label != IGNORE)
    interior = cv2.erode(foreground.view(np.uint8), _CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=1)
    return foreground & (interior == 0)


def _context(shape: tuple[int, ...], window: Window | None, lam: float) -> tuple[Window, Window]:
    """The part of an image of ``shape`` that a map over ``window`` depends on, and ``window`` inside it.

    One pixel more than the saturation distance: a boundary pixel on the context's edge may
    be missed (its outer neighbour unseen), and it lies beyond that distance from the window.
    """
    whole = Window(0, shape[0], 0, shape[1])
    window = window or whole
    context = window.grown(min(math.ceil(saturation_distance(lam)) + 1, max(shape)), shape)
    return context, window.within(context)


def scribble_distance_map(scribble: np.ndarray, lam_s: float, window: Window | None = None) -> np.ndarray:
    """d_s (Eq. 17): 1 on foreground scribble pixels, decaying to 0 with distance.

    With ``window``, the map over that window only (the full map's values there).
    """
    context, inner = _context(scribble.shape, window, lam_s)
    near = scribble[context.slices]
    foreground = (near != BACKGROUND) & (near != IGNORE)
    return _distance_map(foreground, inner, lam_s, rising=False)


def pseudo_boundary_distance_map(pseudo: np.ndarray, lam_c: float, window: Window | None = None) -> np.ndarray:
    """d_c (Eq. 15): 0 on the pseudo-label's foreground boundary, rising to 1 away from it.

    With ``window``, the map over that window only (the full map's values there).
    """
    context, inner = _context(pseudo.shape, window, lam_c)
    boundary = foreground_boundary(pseudo[context.slices])
    return _distance_map(boundary, inner, lam_c, rising=True)

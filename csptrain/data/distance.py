"""DPM distance maps (Eqs. 15 and 17), computed on the fly with an exact EDT.

Eq. 15/17 truncate ``sqrt(exp(lam) * d^2) = exp(lam / 2) * d`` at 255 (floor, as the
authors stored the maps as uint8) and divide by 255.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from scribblesim.engine.result import BACKGROUND
from scribblesim.engine.result import UNLABELLED as IGNORE


def _truncated(distance: np.ndarray, lam: float) -> np.ndarray:
    return np.minimum(np.floor(np.exp(lam / 2.0) * distance), 255.0) / 255.0


def _distance_to(points: np.ndarray) -> np.ndarray:
    if not points.any():
        return np.full(points.shape, np.inf)
    return ndimage.distance_transform_edt(~points)


def foreground_boundary(label: np.ndarray) -> np.ndarray:
    """Foreground pixels (not 0, not 255) with a 4-neighbour outside the foreground."""
    foreground = (label != BACKGROUND) & (label != IGNORE)
    interior = ndimage.binary_erosion(foreground, border_value=1)
    return foreground & ~interior


def scribble_distance_map(scribble: np.ndarray, lam_s: float) -> np.ndarray:
    """d_s (Eq. 17): 1 on foreground scribble pixels, decaying to 0 with distance."""
    foreground = (scribble != BACKGROUND) & (scribble != IGNORE)
    return (1.0 - _truncated(_distance_to(foreground), lam_s)).astype(np.float32)


def pseudo_boundary_distance_map(pseudo: np.ndarray, lam_c: float) -> np.ndarray:
    """d_c (Eq. 15): 0 on the pseudo-label's foreground boundary, rising to 1 away from it."""
    return _truncated(_distance_to(foreground_boundary(pseudo)), lam_c).astype(np.float32)

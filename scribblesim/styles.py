"""The three stroke styles, each turning one mask crop into a vector path.

Line and background strokes need a skeleton. The caller computes the skeletons of all
of an image's work masks at once (see :mod:`scribblesim.mosaic`), so these styles come
in two halves: ``*_work_mask`` says what to skeletonise, ``*_paths`` turns the skeleton
into a path. Paths are (x, y) float arrays in the crop's pixel frame; ``None`` means the
style found nothing to draw.
"""

from __future__ import annotations

import numpy as np
import shapely

from .boundary import eroded_contour, radial_jitter
from .config import SimConfig
from .grid import coarsen, to_fine, work_factor
from .skeleton import largest_component, longest_path, random_path, skeleton_tree
from .smoothing import bezier_smooth, resample


def _rc_to_xy(points_rc: np.ndarray, factor: int) -> np.ndarray:
    return to_fine(points_rc.astype(float), factor)[:, ::-1]


def line_work_mask(mask: np.ndarray, config: SimConfig) -> tuple[np.ndarray, int]:
    """Mask to skeletonise for a line stroke, and its down-sampling factor.

    Coarse cells are kept when any of their pixels is set, so thin parts survive.
    """
    factor = work_factor(mask.shape, config.max_work_pixels)
    return coarsen(mask, factor, conservative=False), factor


def line_paths(
    skeleton: np.ndarray, factor: int, config: SimConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray] | None:
    """Line style (Section IV-C, Algorithm 1): random depth search, then Bezier smoothing.

    Returns
    -------
    (smooth, raw) or None
        The smoothed path and the skeleton path it was smoothed from.
    """
    tree = skeleton_tree(largest_component(skeleton))
    if tree is None:
        return None
    raw = _rc_to_xy(random_path(tree, rng), factor)
    control = resample(raw, config.control_spacing) if len(raw) > 1 else raw
    return bezier_smooth(control, config.bezier_degree), raw


def background_work_mask(region: np.ndarray, config: SimConfig) -> tuple[np.ndarray, int]:
    """Mask to skeletonise for a background stroke, and its down-sampling factor.

    Coarse cells are kept only when all their pixels are background, so the path keeps
    clear of objects; if nothing survives, the region is used at full resolution.
    """
    factor = work_factor(region.shape, config.max_work_pixels)
    coarse = coarsen(region, factor, conservative=True)
    if factor > 1 and not coarse.any():
        return region, 1
    return coarse, factor


def background_paths(skeleton: np.ndarray, factor: int) -> np.ndarray | None:
    """Background style: the longest path of the skeleton, not smoothed.

    The skeleton is that of the region framed by zeros, so the image border counts as
    an edge of the background and the path keeps clear of it.
    """
    tree = skeleton_tree(largest_component(skeleton))
    if tree is None:
        return None
    path = _rc_to_xy(longest_path(tree), factor)
    if factor == 1 or len(path) < 3:
        return path
    # Straight runs instead of the coarse grid's staircase; still no smoothing.
    return np.asarray(shapely.LineString(path).simplify(factor / 2.0).coords)


def boundary_path(mask: np.ndarray, config: SimConfig, rng: np.random.Generator) -> np.ndarray | None:
    """Boundary style (Section IV-B): eroded contour, radial jitter, Bezier smoothing."""
    factor = work_factor(mask.shape, config.max_work_pixels)
    kernel = max(1, round(config.erosion_kernel / factor))
    found = eroded_contour(coarsen(mask, factor, conservative=False), kernel)
    if found is None:
        return None
    points = to_fine(found[0], factor)
    centroid = to_fine(found[1], factor)
    jittered = radial_jitter(points, centroid, config.erosion_kernel, rng)
    return bezier_smooth(jittered, config.bezier_degree, closed=True)

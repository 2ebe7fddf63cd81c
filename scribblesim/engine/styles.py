"""The three stroke styles, each turning one mask crop into vector paths.

Each style comes in two halves. The first depends on the mask alone (a skeleton tree,
an eroded contour) and is computed once per image; the second is the annotator's
random choice (which path, how much jitter) and runs once per seed. Paths are (x, y)
float arrays in the crop's pixel frame; ``None`` means the style found nothing to draw.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import shapely

from .boundary import eroded_contour, outer_contour, radial_jitter, spiral_inwards
from .config import SimConfig
from .grid import coarsen, framed, to_fine, to_fine_pixels, work_factor
from .hand import extend_path, inset_path, keep_stretch, wobble, zigzag
from .kernels import distance_to_unset, label8
from .medial import medial_axis
from .skeleton import (
    MAX_TREE_NODES,
    SkeletonTooComplex,
    SkeletonTree,
    largest_component,
    leaf_to_leaf_path,
    longest_path,
    random_path,
    skeleton_tree,
)
from .smoothing import bezier_smooth, resample

#: Douglas-Peucker tolerance of background paths in pixels: the reference simplifies
#: the chains of its skeleton graph with ``rdp(path, 2)``.
BACKGROUND_SIMPLIFY_PX = 2.0


def _rc_to_xy(points_rc: np.ndarray, factor: int) -> np.ndarray:
    return to_fine(points_rc.astype(float), factor)[:, ::-1]


def line_tree(mask: np.ndarray, config: SimConfig, rng: np.random.Generator) -> tuple[SkeletonTree | None, int]:
    """Skeleton tree of an object for line strokes, and the grid factor it was built on.

    Masks larger than ``config.max_work_pixels`` are analysed on a coarser grid whose
    cells are kept when any of their pixels is set, so thin parts survive. The tree is
    ``None`` for an empty skeleton or one too fragmented to build a tree over.
    """
    factor = work_factor(mask.shape, config.max_work_pixels)
    skeleton = medial_axis(framed(coarsen(mask, factor, conservative=False)), rng=rng)[1:-1, 1:-1]
    try:
        return skeleton_tree(largest_component(skeleton)), factor
    except SkeletonTooComplex:
        return None, factor  # the object falls back to a stroke on its deepest pixel


def chord_path(depth: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A straight stroke across the object through its deepest pixel, at a uniformly random angle.

    ``depth`` is the object's distance to its boundary per pixel of its crop (0 outside
    it). The chord runs both ways from the deepest pixel, one point a pixel, up to the last
    point before it first leaves the object: a hand that crosses a round cavity, whose
    skeleton is nearly a point. Returns (x, y) points in the crop's frame.
    """
    row, col = np.unravel_index(int(np.argmax(depth)), depth.shape)
    angle = float(rng.uniform(0.0, math.pi))
    heading = np.array([math.cos(angle), math.sin(angle)])
    steps = np.arange(1.0, float(np.hypot(*depth.shape)) + 1.0)
    centre = np.array([float(col), float(row)])
    halves = []
    for sign in (-1.0, 1.0):
        points = centre + sign * steps[:, None] * heading
        cells = np.rint(points).astype(int)
        inside = (cells >= 0).all(axis=1) & (cells[:, 0] < depth.shape[1]) & (cells[:, 1] < depth.shape[0])
        inside[inside] = depth[cells[inside, 1], cells[inside, 0]] > 0
        halves.append(points[: int(np.argmin(inside)) if not inside.all() else len(points)])
    return np.concatenate([halves[0][::-1], centre[None], halves[1]])


def line_paths(
    tree: SkeletonTree | None,
    factor: int,
    config: SimConfig,
    rng: np.random.Generator,
    depth: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Line style (Section IV-C, Algorithm 1): random depth search, then Bezier smoothing.

    ``config.stroke_path`` picks the path: on the skeleton ``tree`` (built on a grid
    ``factor`` times coarser), or a chord across the object (:func:`chord_path`, which needs
    no tree). The style knobs of ``config`` (:mod:`.hand`) then extend the path
    (``stroke_extension``), trim it (``inset`` and ``stroke_length``), wobble and zigzag the
    smoothed stroke, in units of the object's inscribed radius: they and the chord need its
    boundary ``depth`` map.

    Returns
    -------
    (smooth, raw)
        The smoothed path and the skeleton path (or chord) it was smoothed from.
    """
    if config.stroke_path == "chord":
        assert depth is not None, "a chord needs the object's depth map"
        raw = chord_path(depth, rng)
    else:
        assert tree is not None, "a skeleton path needs the object's skeleton tree"
        path = random_path(tree, rng) if config.stroke_path == "root-to-leaf" else leaf_to_leaf_path(tree, rng)
        raw = _rc_to_xy(path, factor)
    if config.stroke_extension > 0:
        assert depth is not None, "stroke_extension needs the object's depth map"
        raw = extend_path(raw, config.stroke_extension * float(depth.max()), rng)
    if config.inset > 0:
        assert depth is not None, "inset needs the object's depth map"
        raw = inset_path(raw, depth, config.inset)
    raw = keep_stretch(raw, config.stroke_length, config.stroke_position, rng)
    control = resample(raw, config.control_spacing) if len(raw) > 1 else raw
    smooth = bezier_smooth(control, config.bezier_degree)
    if config.wobble_amplitude > 0:
        assert depth is not None, "wobble needs the object's depth map"
        radius = float(depth.max())
        smooth = wobble(smooth, config.wobble_amplitude * radius, config.wobble_wavelength * radius, rng)
    if config.zigzag_reach > 0:
        assert depth is not None, "zigzag needs the object's depth map"
        smooth = zigzag(smooth, depth, config.zigzag_reach, config.zigzag_wavelength * float(depth.max()), rng)
    return smooth, raw


def background_paths(
    region: np.ndarray, config: SimConfig, rng: np.random.Generator, *, every_component: bool
) -> tuple[list[np.ndarray], str | None]:
    """Background style: the longest path of the region's skeleton, not smoothed.

    The region is framed by zeros, so the image border counts as an edge of the
    background and the paths keep clear of it. Regions larger than
    ``config.background_work_pixels`` are analysed on a coarser grid whose cells are
    kept only when all their pixels are background; each cell of the path maps back to
    a pixel of its own. Paths are simplified as the reference's are (Douglas-Peucker,
    :data:`BACKGROUND_SIMPLIFY_PX`, or half a cell on grids coarser than 4x).
    ``every_component`` gives one path per skeleton component (the reference's
    Cityscapes setting), largest first, instead of one for the largest.

    Returns
    -------
    (paths, reason)
        ``reason`` says why skeleton pieces were left without a path (the work bound of
        :data:`~scribblesim.engine.skeleton.MAX_TREE_NODES` over all of them), else ``None``.
    """
    factor = work_factor(region.shape, config.background_work_pixels)
    work = coarsen(region, factor, conservative=True)
    if factor > 1 and not work.any():
        work, factor = region, 1
    skeleton = medial_axis(framed(work), rng=rng)[1:-1, 1:-1]
    labels = label8(skeleton)[0]
    # The skeleton's pixels, not the whole image, give each piece's size and box.
    rows, cols = np.nonzero(skeleton)
    piece = labels[rows, cols]
    by_piece = np.argsort(piece, kind="stable")
    sizes = np.bincount(piece)[1:]
    starts = np.cumsum(sizes) - sizes
    order = np.argsort(-sizes, kind="stable")
    chosen = order[: len(order) if every_component else 1].tolist()
    paths, budget, reason = [], MAX_TREE_NODES, None
    for done, k in enumerate(chosen):
        mine = by_piece[starts[k] : starts[k] + sizes[k]]
        piece_rows, piece_cols = rows[mine], cols[mine]
        top, left = piece_rows.min(), piece_cols.min()
        pixels = np.zeros((piece_rows.max() - top + 1, piece_cols.max() - left + 1), dtype=bool)
        pixels[piece_rows - top, piece_cols - left] = True
        try:
            tree = skeleton_tree(pixels, max_nodes=budget)
            assert tree is not None  # a labelled component is never empty
        except SkeletonTooComplex as error:
            reason = f"{error}; {len(chosen) - done} skeleton piece(s) left without a stroke"
            break
        budget -= len(tree.graph)
        path = to_fine_pixels(longest_path(tree) + np.array([top, left]), factor)[:, ::-1].astype(float)
        if len(path) >= 3:
            # Straight runs instead of the pixel grid's staircase, still no smoothing. Plain
            # Douglas-Peucker: keeping the topology costs ten times more, for crossings
            # within the tolerance that no brush shows.
            tolerance = max(BACKGROUND_SIMPLIFY_PX, factor / 2.0)
            path = np.asarray(shapely.simplify(shapely.LineString(path), tolerance, preserve_topology=False).coords)
        paths.append(path)
    return paths, reason


def around_paths(objects: np.ndarray) -> list[np.ndarray]:
    """Background style ``"around"``: loops around each group of objects, as an annotator circles them.

    ``objects`` is the image's boolean map of object pixels, already grown by the margin
    (see :func:`grown_objects`). Each group's outer contour is one closed path; where it
    runs along the image border, it is cut there into open runs (an annotator circles
    what lies inside the image). Paths are (x, y) in the image frame, simplified as
    :func:`background_paths`' are, largest group first.
    """
    contours, _ = cv2.findContours(objects.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    height, width = objects.shape
    paths = []
    for contour in sorted(contours, key=len, reverse=True):  # ties keep OpenCV's (raster) order
        points = contour[:, 0, :].astype(float)
        inside = (points[:, 0] > 0) & (points[:, 1] > 0) & (points[:, 0] < width - 1) & (points[:, 1] < height - 1)
        for run in _runs(points, inside):
            if len(run) >= 2:
                line = shapely.simplify(shapely.LineString(run), BACKGROUND_SIMPLIFY_PX, preserve_topology=False)
                paths.append(np.asarray(line.coords))
    return paths


def grown_objects(objects: np.ndarray, margin: float) -> np.ndarray:
    """The pixels within ``margin`` x the objects' equivalent radius (a disc of their area) of an object."""
    reach = max(1.0, margin * math.sqrt(float(objects.sum()) / math.pi))
    return distance_to_unset(~objects) <= reach


def _runs(points: np.ndarray, inside: np.ndarray) -> list[np.ndarray]:
    """A closed contour's points as paths: the whole loop, closed, or its runs of ``inside`` points."""
    if inside.all():
        return [np.vstack([points, points[:1]])]
    start = int(np.argmin(inside))  # an outside point: no run wraps around the array's end
    points, inside = np.roll(points, -start, axis=0), np.roll(inside, -start)
    run_of = np.cumsum(~inside)
    return [points[inside & (run_of == run)] for run in np.unique(run_of[inside])]


#: A boundary stroke's outline: contour points, their centroid and the jitter amplitude.
Outline = tuple[np.ndarray, np.ndarray, float]


def boundary_outline(mask: np.ndarray, config: SimConfig, depth: np.ndarray | None = None) -> Outline | None:
    """The contour a boundary stroke jitters, at full resolution, its centroid and the jitter amplitude.

    The paper's erosion by ``config.erosion_kernel``, or with ``config.boundary_inset`` the
    pixels that deep in inscribed radii (this needs the object's boundary ``depth`` map).
    ``None`` when nothing is left.
    """
    if config.boundary_inset is None:
        outline = eroded_contour(mask, config.erosion_kernel)
        amplitude = float(config.erosion_kernel)
    else:
        assert depth is not None, "boundary_inset needs the object's depth map"
        inset = config.boundary_inset * float(depth.max())
        outline = outer_contour(depth >= inset, max(inset, 1.0))
        amplitude = inset / 4.0
    return None if outline is None else (*outline, amplitude)


def boundary_path(outline: Outline, config: SimConfig, rng: np.random.Generator) -> np.ndarray:
    """Boundary style (Section IV-B): radial jitter of the outline, Bezier smoothing.

    With ``config.boundary_spiral`` the loop opens into a spiral (:func:`spiral_inwards`).
    """
    points, centroid, amplitude = outline
    jittered = radial_jitter(points, centroid, amplitude, rng)
    if config.boundary_spiral > 0:
        return bezier_smooth(spiral_inwards(jittered, centroid, config.boundary_spiral, rng), config.bezier_degree)
    return bezier_smooth(jittered, config.bezier_degree, closed=True)

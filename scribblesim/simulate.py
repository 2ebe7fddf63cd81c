"""simulate(): scribbles for one image from its instance masks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from .config import SimConfig
from .inputs import as_class_ids, as_mask_stack
from .mosaic import medial_axes
from .raster import stroke_pixels
from .result import BACKGROUND, UNLABELLED, ScribbleMap, Stroke
from .seeding import BACKGROUND_STREAM, MEDIAL_AXIS_STREAM, OBJECT_STREAM, stream
from .styles import (
    background_paths,
    background_work_mask,
    boundary_path,
    line_paths,
    line_work_mask,
)

_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)
_IGNORED = -2


def _bounding_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def owner_map(masks: np.ndarray) -> np.ndarray:
    """Index of the object that owns each pixel, -1 for none.

    Where masks overlap, the later object wins, as when the dense ground truth is
    painted in annotation order; scribbles follow the same rule so that they always
    carry the class of the ground truth under them.
    """
    owner = np.full(masks.shape[1:], -1, dtype=np.int32)
    for index, mask in enumerate(masks):
        box = _bounding_box(mask)
        if box is not None:
            owner[box][mask[box]] = index
    return owner


def semantic_map(masks: np.ndarray | Sequence[np.ndarray], classes: Sequence[int]) -> np.ndarray:
    """Dense class map (uint8, 0 = background) under the same overlap rule as :func:`simulate`."""
    stack = as_mask_stack(masks)
    ids = as_class_ids(classes, len(stack))
    lookup = np.concatenate([ids, [BACKGROUND]]).astype(np.uint8)
    return lookup[owner_map(stack)]


@dataclass
class _Region:
    """Where one stroke may be drawn: a crop of the image and the allowed pixels in it."""

    allowed: np.ndarray
    top: int
    left: int
    label: int
    instance: int | None
    rng: np.random.Generator
    candidates: list[tuple[np.ndarray, str]]
    work: tuple[np.ndarray, int] | None = None  # (mask to skeletonise, its down-sampling factor)
    skeleton: np.ndarray | None = None


def _pixels(points: np.ndarray, region: _Region, config: SimConfig) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = stroke_pixels(points, region.allowed.shape, config.width)
    if config.clip_to_mask:
        keep = region.allowed[rows, cols]
        rows, cols = rows[keep], cols[keep]
    return rows + region.top, cols + region.left


def _deepest_pixel(mask: np.ndarray) -> np.ndarray:
    distance = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(distance)), mask.shape)
    return np.array([[float(col), float(row)]])


def _plan_object(visible: np.ndarray, image_area: int, config: SimConfig, region: _Region) -> None:
    """Style decision (Eq. 20). Boundary strokes are drawn now; line strokes need a skeleton."""
    ratio = visible.sum() / image_area
    if ratio >= config.boundary_min_ratio and region.rng.random() < ratio:
        if ndimage.label(visible, structure=_EIGHT_CONNECTED)[1] == 1:
            path = boundary_path(visible, config, region.rng)
            if path is not None:
                region.candidates.append((path, "boundary"))
                return
    region.work = line_work_mask(visible, config)


def _add_skeleton_paths(region: _Region, config: SimConfig) -> None:
    factor = region.work[1]
    if region.instance is None:
        path = background_paths(region.skeleton, factor)
        region.candidates += [] if path is None else [(path, "background")]
    else:
        found = line_paths(region.skeleton, factor, config, region.rng)
        region.candidates += [] if found is None else [(found[0], "line"), (found[1], "line")]


def _draw_first_fitting(region: _Region, config: SimConfig, result: ScribbleMap) -> bool:
    """Draw the first candidate path that leaves pixels after clipping; False if none does."""
    for points, style in region.candidates:
        rows, cols = _pixels(points, region, config)
        if rows.size:
            result.label_map[rows, cols] = region.label
            offset = np.array([region.left, region.top], dtype=float)
            result.strokes.append(Stroke(points + offset, region.label, region.instance, style))
            return True
    return False


def _background_parts(shape: tuple[int, int], split: str) -> list[slice]:
    if split == "horizontal" and shape[0] >= 2:
        return [slice(0, shape[0] // 2), slice(shape[0] // 2, shape[0])]
    return [slice(0, shape[0])]


def _plan(
    stack: np.ndarray, ids: np.ndarray, seed: int, image_id: int | str, config: SimConfig,
    ignore: np.ndarray | None, result: ScribbleMap,
) -> list[_Region]:
    """Regions to scribble, background parts first; skipped objects are recorded in ``result``."""
    shape = stack.shape[1:]
    owner = owner_map(stack)
    if ignore is not None:
        owner[ignore] = _IGNORED  # neither background nor any object's
    regions = []
    if config.background:
        background = owner == -1
        for part, rows in enumerate(_background_parts(shape, config.background_split)):
            allowed = background[rows]
            if not allowed.any():
                result.skipped.append((None, f"background part {part}: no background pixels"))
                continue
            rng = stream(seed, image_id, BACKGROUND_STREAM, part)
            region = _Region(allowed, rows.start, 0, BACKGROUND, None, rng, [])
            region.work = background_work_mask(allowed, config)
            regions.append(region)
    for index in range(len(stack)):
        box = _bounding_box(stack[index])
        if box is None:
            result.skipped.append((index, "empty mask"))
            continue
        visible = owner[box] == index
        area = int(visible.sum())
        if area == 0:
            result.skipped.append((index, "hidden by later objects or ignored pixels"))
            continue
        if area <= config.min_area:
            result.skipped.append((index, f"too small ({area} px <= min_area {config.min_area})"))
            continue
        rng = stream(seed, image_id, OBJECT_STREAM, index)
        region = _Region(visible, box[0].start, box[1].start, int(ids[index]), index, rng, [])
        _plan_object(visible, shape[0] * shape[1], config, region)
        regions.append(region)
    return regions


def simulate(
    masks: np.ndarray | Sequence[np.ndarray],
    classes: Sequence[int] | np.ndarray,
    seed: int = 1,
    image_id: int | str = 0,
    config: SimConfig | None = None,
    *,
    ignore: np.ndarray | None = None,
) -> ScribbleMap:
    """Simulate human-like scribbles for one image (paper Section IV).

    Parameters
    ----------
    masks : (N, H, W) bool array or sequence of (H, W) bool arrays
        One mask per object instance. Where masks overlap, the later one owns the pixel.
    classes : sequence of int
        Class id (1..254) of each instance.
    seed : int
        The "annotator": together with ``image_id`` it fully determines the result.
    image_id : int or str
        Identifies the image, so that images of one seed get independent scribbles.
    config : SimConfig, optional
        Simulation parameters; ``SimConfig()`` (the paper's COCO setting) by default.
    ignore : (H, W) bool array, optional
        Pixels that get no scribble at all and do not count as background (e.g. COCO
        crowd regions), even where a mask covers them.

    Returns
    -------
    ScribbleMap
        Label map, vector strokes and a skip record for every object without a stroke.

    Examples
    --------
    >>> import numpy as np, scribblesim
    >>> mask = np.zeros((64, 64), bool); mask[16:48, 8:56] = True
    >>> result = scribblesim.simulate([mask], [3], seed=1)
    >>> sorted(np.unique(result.label_map).tolist())
    [0, 3, 255]
    """
    config = config or SimConfig()
    stack = as_mask_stack(masks)
    ids = as_class_ids(classes, len(stack))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    shape = stack.shape[1:]
    if ignore is not None:
        if np.shape(ignore) != shape:
            raise ValueError(f"ignore must have the image shape {shape}, got {np.shape(ignore)}")
        ignore = np.asarray(ignore, dtype=bool)

    result = ScribbleMap(label_map=np.full(shape, UNLABELLED, dtype=np.uint8))
    regions = _plan(stack, ids, seed, image_id, config, ignore, result)
    needs_skeleton = [r for r in regions if r.work is not None]
    skeletons = medial_axes(
        [r.work[0] for r in needs_skeleton], stream(seed, image_id, MEDIAL_AXIS_STREAM, 0)
    )
    for region, skeleton in zip(needs_skeleton, skeletons):
        region.skeleton = skeleton

    for region in regions:
        if region.skeleton is not None:
            _add_skeleton_paths(region, config)
        if _draw_first_fitting(region, config, result):
            continue
        if region.instance is None:
            result.skipped.append((None, "background stroke left no pixel"))
            continue
        # Objects always get a stroke: their deepest pixel is the last resort.
        region.candidates = [(_deepest_pixel(region.allowed), "line")]
        _draw_first_fitting(region, config, result)
    return result

"""simulate(): scribbles for one image from its instance masks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConfigError
from .config import SimConfig
from .grid import framed
from .inputs import as_class_ids, as_mask_stack
from .kernels import bounding_box, distance_to_unset, label8
from .raster import stroke_pixels
from .result import BACKGROUND, ScribbleMap, Skip, Stroke, StrokeStyle, label_dtype, unlabelled_value
from .seeding import BACKGROUND_SKELETON_STREAM, OBJECT_SKELETON_STREAM, OBJECT_STREAM, shared_stream, stream
from .styles import (
    around_paths,
    background_paths,
    boundary_outline,
    boundary_path,
    grown_objects,
    line_paths,
    line_tree,
)

_IGNORED = -2


def _paint(
    masks: np.ndarray, values: Sequence[int], fill: int, dtype: type
) -> tuple[np.ndarray, list[tuple[slice, slice] | None]]:
    """Each mask's value painted in order (the later mask wins), and every mask's bounding box."""
    canvas: np.ndarray = np.full(masks.shape[1:], fill, dtype=dtype)
    boxes = [bounding_box(mask) for mask in masks]
    for mask, box, value in zip(masks, boxes, values):
        if box is not None:
            canvas[box][mask[box]] = value
    return canvas, boxes


def _owners(masks: np.ndarray) -> tuple[np.ndarray, list[tuple[slice, slice] | None]]:
    """:func:`owner_map` and the bounding box of every mask (None for an empty one)."""
    return _paint(masks, range(len(masks)), -1, np.int32)


def owner_map(masks: np.ndarray) -> np.ndarray:
    """Index of the object that owns each pixel, -1 for none.

    Where masks overlap, the later object wins, as when the dense ground truth is
    painted in annotation order; scribbles follow the same rule so that they always
    carry the class of the ground truth under them.
    """
    return _owners(masks)[0]


def semantic_map(
    masks: np.ndarray | Sequence[np.ndarray], classes: Sequence[int] | np.ndarray, *, label_dtype: type | None = None
) -> np.ndarray:
    """Dense class map (0 = background) under the same overlap rule as :func:`simulate`, of
    ``label_dtype`` as :func:`simulate` chooses it."""
    stack = as_mask_stack(masks)
    ids = as_class_ids(classes, len(stack))
    # Class ids painted directly: gathering them through an owner map took twice as long.
    return _paint(stack, ids.tolist(), BACKGROUND, _dtype_for(ids, label_dtype))[0]


def _dtype_for(ids: np.ndarray, dtype: type | None) -> type:
    """``dtype`` (checked to hold ``ids``), or the smallest label dtype that does."""
    needed = label_dtype(int(ids.max(initial=0)))
    if dtype is None:
        return needed
    if np.dtype(dtype) not in (np.dtype(np.uint8), np.dtype(np.uint16)):
        raise ConfigError(f"label_dtype must be uint8 or uint16, got {np.dtype(dtype)}")
    if np.dtype(dtype).itemsize < np.dtype(needed).itemsize:
        raise ConfigError(f"label_dtype uint8 holds class ids up to 254, got {int(ids.max())}")
    return np.dtype(dtype).type


@dataclass
class _Object:
    """One object's visible pixels (a crop of the image) and what its strokes need.

    The skeleton tree and the eroded outline depend on the mask alone, so they are
    computed at most once per image and shared by every seed.
    """

    index: int
    label: int
    top: int
    left: int
    visible: np.ndarray
    ratio: float
    rng_skeleton: np.random.Generator
    _tree: tuple | None = None
    _outline: tuple | None = None
    _depth: np.ndarray | None = None

    def tree(self, config: SimConfig) -> tuple:
        if self._tree is None:
            self._tree = line_tree(self.visible, config, self.rng_skeleton)
        return self._tree

    def depth(self) -> np.ndarray:
        """Distance of each visible pixel to the nearest pixel outside the object."""
        if self._depth is None:
            self._depth = distance_to_unset(framed(self.visible))[1:-1, 1:-1]
        return self._depth

    def outline(self, config: SimConfig) -> tuple | None:
        if self._outline is None:
            connected = label8(self.visible)[1] == 1
            depth = self.depth() if connected and config.boundary_inset is not None else None
            self._outline = (boundary_outline(self.visible, config, depth) if connected else None,)
        return self._outline[0]


@dataclass
class _Scene:
    """Everything about one image that does not depend on the annotator (seed)."""

    shape: tuple[int, int]
    dtype: type  # of the label maps
    ignore: np.ndarray | None  # pixels no stroke may cover, whatever the clipping
    objects: list[_Object]
    # Per part: its paths (image frame) and their pixels, the same for every seed.
    background: list[list[tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]]]
    skipped: list[Skip]


def _pixels(
    points: np.ndarray, allowed: np.ndarray, top: int, left: int, config: SimConfig, ignore: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Image pixels a stroke on the crop ``allowed`` (at ``top``, ``left``) labels."""
    rows, cols = stroke_pixels(points, allowed.shape, config.width, config.line_connectivity)
    if config.clip_to_mask:
        keep = allowed[rows, cols]
        rows, cols = rows[keep], cols[keep]
    rows, cols = rows + top, cols + left
    if ignore is not None and not config.clip_to_mask:
        keep = ~ignore[rows, cols]  # clipped strokes never reach ignored pixels anyway
        rows, cols = rows[keep], cols[keep]
    return rows, cols


def _deepest_pixel(mask: np.ndarray) -> np.ndarray:
    distance = distance_to_unset(framed(mask))[1:-1, 1:-1]
    row, col = np.unravel_index(int(np.argmax(distance)), mask.shape)
    return np.array([[float(col), float(row)]])


def background_parts(height: int, config: SimConfig) -> list[slice]:
    """Row ranges of the background parts: the whole image, or above and below the band.

    The band is ``round(background_band * height)`` rows centred on the middle row
    ``height // 2``: rows 412..612 of a 1024-row Cityscapes image, as in the reference.
    """
    if config.background_split != "horizontal" or height < 2:
        return [slice(0, height)]
    middle, half = height // 2, max(0, round(config.background_band * height) - 1) // 2
    return [slice(0, max(0, middle - half)), slice(min(height, middle + half + 1), height)]


def _scene(
    stack: np.ndarray,
    ids: np.ndarray,
    image_id: int | str,
    config: SimConfig,
    ignore: np.ndarray | None,
    dtype: type,
) -> _Scene:
    """Objects to scribble and background paths; objects that cannot be scribbled are recorded."""
    shape = stack.shape[1:]
    owner, boxes = _owners(stack)
    if ignore is not None:
        owner[ignore] = _IGNORED  # neither background nor any object's
    scene = _Scene(shape, dtype, ignore, [], [], [])
    if config.background:
        background = owner == -1
        drawn_as = config if config.background_width is None else replace(config, width=config.background_width)
        every_component = config.background_split == "horizontal"
        objects = owner >= 0
        around = config.background_placement == "around" and bool(objects.any())
        if around:
            paths = around_paths(grown_objects(objects, config.background_margin))
            if not paths:
                scene.skipped.append(Skip.background(0, "no room around the objects"))
            scene.background.append([(path, _pixels(path, background, 0, 0, drawn_as, ignore)) for path in paths])
        for part, rows in enumerate([] if around else background_parts(shape[0], config)):
            allowed = background[rows]
            if not allowed.any():
                scene.skipped.append(Skip.background(part, "no background pixels"))
                continue
            rng = shared_stream(image_id, BACKGROUND_SKELETON_STREAM, part)
            paths, bound = background_paths(allowed, config, rng, every_component=every_component)
            if bound is not None:
                scene.skipped.append(Skip(None, "skeleton too complex", f"background part {part}: {bound}"))
            elif not paths:
                scene.skipped.append(Skip.background(part, "no skeleton to trace"))
            scene.background.append(
                [
                    (path + np.array([0.0, rows.start]), _pixels(path, allowed, rows.start, 0, drawn_as, ignore))
                    for path in paths
                ]
            )
    image_area = shape[0] * shape[1]
    for index, box in enumerate(boxes):
        if box is None:
            scene.skipped.append(Skip.of(index, "empty mask"))
            continue
        visible = owner[box] == index
        area = int(visible.sum())
        if area == 0:
            scene.skipped.append(Skip.of(index, "hidden by later objects or ignored pixels"))
            continue
        min_area = config.for_class(int(ids[index])).min_area
        if area <= min_area:
            scene.skipped.append(Skip.of(index, "too small", f" ({area} px <= min_area {min_area})"))
            continue
        rng = shared_stream(image_id, OBJECT_SKELETON_STREAM, index)
        scene.objects.append(
            _Object(index, int(ids[index]), box[0].start, box[1].start, visible, area / image_area, rng)
        )
    return scene


def _object_candidates(
    obj: _Object, config: SimConfig, rng: np.random.Generator
) -> list[tuple[np.ndarray, StrokeStyle]]:
    """Style decision (Eq. 20), then the style's paths, best first."""
    if config.boundary_probability is None:  # Eq. 20, from the reference's smallest ratio up
        boundary = obj.ratio >= config.boundary_min_ratio and rng.random() < obj.ratio
    else:
        boundary = rng.random() < config.boundary_probability
    if boundary:
        outline = obj.outline(config)
        if outline is not None:
            return [(boundary_path(outline, config, rng), "boundary")]
    return _line_candidates(obj, config, rng)


def _line_candidates(obj: _Object, config: SimConfig, rng: np.random.Generator) -> list[tuple[np.ndarray, StrokeStyle]]:
    """A line stroke's paths, best first: smoothed, then the skeleton path itself."""
    chord = config.stroke_path == "chord"  # needs no skeleton
    tree, factor = (None, 1) if chord else obj.tree(config)
    if tree is None and not chord:
        return []
    knobs = (config.inset, config.wobble_amplitude, config.stroke_extension, config.zigzag_reach)
    needs_depth = chord or max(knobs) > 0
    smooth, raw = line_paths(tree, factor, config, rng, obj.depth() if needs_depth else None)
    return [(smooth, "line"), (raw, "line")]


def _annotate(scene: _Scene, seed: int, image_id: int | str, config: SimConfig) -> ScribbleMap:
    """One annotator's scribbles of a scene."""
    label_map: np.ndarray = np.full(scene.shape, unlabelled_value(scene.dtype), dtype=scene.dtype)
    result = ScribbleMap(label_map=label_map, skipped=list(scene.skipped))

    def paint(
        pixels: tuple[np.ndarray, np.ndarray], points: np.ndarray, label: int, instance: int | None, style: StrokeStyle
    ) -> bool:
        if pixels[0].size == 0:
            return False
        result.label_map[pixels] = label
        result.strokes.append(Stroke(points, label, instance, style))
        return True

    def draw(points: np.ndarray, obj: _Object, style: StrokeStyle, own: SimConfig) -> bool:
        """Paint a stroke of ``obj`` drawn with its class's config ``own``."""
        pixels = _pixels(points, obj.visible, obj.top, obj.left, own, scene.ignore)
        return paint(pixels, points + np.array([obj.left, obj.top], dtype=float), obj.label, obj.index, style)

    for part, strokes in enumerate(scene.background):
        drawn = [paint(pixels, path, BACKGROUND, None, "background") for path, pixels in strokes]
        if strokes and not any(drawn):
            result.skipped.append(Skip.background(part, "background stroke left no pixel"))
    for obj in scene.objects:
        own = config.for_class(obj.label)
        rng = stream(seed, image_id, OBJECT_STREAM, obj.index)
        candidates = _object_candidates(obj, own, rng)
        if not any(draw(points, obj, style, own) for points, style in candidates):
            # Objects always get a stroke: their deepest pixel is the last resort.
            draw(_deepest_pixel(obj.visible), obj, "line", own)
        if candidates and candidates[0][1] == "line":
            for _ in range(own.strokes_per_object - 1):  # more strokes: each one optional
                any(draw(points, obj, style, own) for points, style in _line_candidates(obj, own, rng))
    return result


def simulate(
    masks: np.ndarray | Sequence[np.ndarray],
    classes: Sequence[int] | np.ndarray,
    seed: int = 1,
    image_id: int | str = 0,
    config: SimConfig | None = None,
    *,
    ignore: np.ndarray | None = None,
    label_dtype: type | None = None,
) -> ScribbleMap:
    """Simulate human-like scribbles for one image (paper Section IV).

    Parameters
    ----------
    masks : (N, H, W) bool array or sequence of (H, W) bool arrays
        One mask per object instance. Where masks overlap, the later one owns the pixel.
    classes : sequence of int
        Class id (1..65534) of each instance.
    seed : int
        The "annotator": together with ``image_id`` it fully determines the result.
    image_id : int or str
        Identifies the image, so that images of one seed get independent scribbles.
    config : SimConfig, optional
        Simulation parameters; ``SimConfig()`` (the paper's COCO setting) by default.
    ignore : (H, W) bool array, optional
        Pixels that get no scribble at all and do not count as background (e.g. COCO
        crowd regions), even where a mask covers them.
    label_dtype : {numpy.uint8, numpy.uint16}, optional
        The label map's dtype (its largest value is unlabelled); by default uint8 where
        every class id is at most 254, else uint16. A dataset whose ids go above 254
        passes uint16 for all its images.

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
    return simulate_seeds(masks, classes, [seed], image_id, config, ignore=ignore, label_dtype=label_dtype)[0]


def simulate_seeds(
    masks: np.ndarray | Sequence[np.ndarray],
    classes: Sequence[int] | np.ndarray,
    seeds: Sequence[int],
    image_id: int | str = 0,
    config: SimConfig | None = None,
    *,
    ignore: np.ndarray | None = None,
    label_dtype: type | None = None,
) -> list[ScribbleMap]:
    """Scribbles of several annotators for one image; ``simulate`` for each seed, faster.

    The analysis that depends on the masks alone (skeletons, eroded outlines,
    background paths) is done once and shared, so each extra seed costs only its own
    choices and the rasterising. ``result[k]`` equals ``simulate(..., seed=seeds[k])``.

    Parameters
    ----------
    masks, classes, image_id, config, ignore, label_dtype
        As for :func:`simulate`.
    seeds : sequence of int
        The annotators.

    Returns
    -------
    list of ScribbleMap
        One per seed, in order.
    """
    config = config or SimConfig()
    stack = as_mask_stack(masks)
    ids = as_class_ids(classes, len(stack))
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            raise ConfigError(f"seed must be a non-negative int, got {seed!r}")
    shape = stack.shape[1:]
    if ignore is not None:
        if np.shape(ignore) != shape:
            raise ConfigError(f"ignore must have the image shape {shape}, got {np.shape(ignore)}")
        ignore = np.asarray(ignore, dtype=bool)
    scene = _scene(stack, ids, image_id, config, ignore, _dtype_for(ids, label_dtype))
    return [_annotate(scene, int(seed), image_id, config) for seed in seeds]

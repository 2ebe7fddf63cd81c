"""Per-object measurement of a scribble label map, and agreement between two of them.

Statistics (any source: :func:`object_stats` takes instance masks, classes and a scribble
label map, so human scribbles are measured exactly like simulated ones). Objects are the
*visible* parts of the masks: where masks overlap the later one owns the pixel (as in
:func:`scribblesim.semantic_map`), and ``ignore`` pixels belong to no object.

- **area ratio**: object pixels / image pixels.
- **scribble ratio**: pixels on the object labelled with its class / object pixels.
  Scribble pixels of another label on the object are counted apart (``foreign_pixels``).
- **stroke length**: length of the skeleton of the object's scribble pixels (1 per
  orthogonal, sqrt(2) per diagonal step; see :func:`scribblesim.engine.vectorise.skeleton_length`),
  so raster-only human scribbles are measured the same way; ``length_ratio`` divides it
  by sqrt(object area).
- **boundary distance**: for each scribble pixel, its Euclidean distance to the nearest
  pixel outside the object (the image border counts as outside), divided by the object's
  largest inscribed radius (the maximum of that distance over the object): 1 on the
  medial axis' deepest point, about 1/radius on the boundary.
- **style**: the style of the strokes that own most of the object's scribble pixels
  (nearest-stroke ownership, :func:`scribblesim.sets.degrade.assign_pixels`; found by
  :func:`scribblesim.analysis.report.object_styles`), ``none`` without scribble pixels,
  ``unknown`` without stroke records.

Agreement of two sets on the same objects (:func:`agreement`): the symmetric Chamfer
distance (mean of the two directed mean nearest-pixel distances) between the two
scribbles on the object divided by sqrt(area), and the IoU of the two scribbles dilated
by a disk of ``radius`` pixels, within the object.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.morphology import disk, skeletonize

from ..engine.inputs import as_class_ids, as_mask_stack
from ..engine.result import unlabelled_value
from ..engine.simulate import owner_map
from ..engine.vectorise import skeleton_length
from ..errors import ConfigError


@dataclass(frozen=True)
class ObjectStats:
    """Statistics of one object's scribble (see the module docstring)."""

    object: int
    label: int
    area: int
    area_ratio: float
    scribble_pixels: int
    scribble_ratio: float
    foreign_pixels: int
    stroke_length: float
    length_ratio: float
    inscribed_radius: float
    boundary_distances: np.ndarray
    style: str = "unknown"

    def row(self) -> dict:
        """Flat record for tables: the distances summarised as mean and median."""
        record = {k: v for k, v in asdict(self).items() if k != "boundary_distances"}
        distances = self.boundary_distances
        record["dist_mean"] = float(distances.mean()) if distances.size else math.nan
        record["dist_median"] = float(np.median(distances)) if distances.size else math.nan
        return record


def visible_owner(masks: np.ndarray | Sequence[np.ndarray], ignore: np.ndarray | None = None) -> np.ndarray:
    """Index of the object owning each pixel (later masks win), -1 for none or ignored."""
    owner = owner_map(as_mask_stack(masks))
    if ignore is not None:
        owner[np.asarray(ignore, dtype=bool)] = -1
    return owner


def mask_box(mask: np.ndarray) -> tuple[slice, slice]:
    """The bounding box of a non-empty mask, as slices."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def boundary_distance(mask: np.ndarray) -> np.ndarray:
    """Distance of each mask pixel to the nearest pixel outside it (outside the array counts)."""
    return ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]


def one_object(
    mask: np.ndarray, label: int, scribbles: np.ndarray, image_pixels: int, index: int = 0, style: str = "unknown"
) -> ObjectStats:
    """Statistics of one (visible) object mask against a scribble label map of the same size."""
    box = mask_box(mask)
    mask, scribbles = mask[box], scribbles[box]
    area = int(mask.sum())
    on = mask & (scribbles == label)
    foreign = mask & (scribbles != unlabelled_value(scribbles.dtype)) & (scribbles != label)
    depth = boundary_distance(mask)
    radius = float(depth.max())
    length = skeleton_length(skeletonize(on)) if on.any() else 0.0
    return ObjectStats(
        object=index,
        label=int(label),
        area=area,
        area_ratio=area / image_pixels,
        scribble_pixels=int(on.sum()),
        scribble_ratio=float(on.sum()) / area,
        foreign_pixels=int(foreign.sum()),
        stroke_length=length,
        length_ratio=length / math.sqrt(area),
        inscribed_radius=radius,
        boundary_distances=depth[on] / radius,
        style=style,
    )


def object_stats(
    masks: np.ndarray | Sequence[np.ndarray],
    classes: Sequence[int] | np.ndarray,
    scribbles: np.ndarray,
    *,
    ignore: np.ndarray | None = None,
    styles: Sequence[str] | None = None,
) -> list[ObjectStats]:
    """Per-object statistics of a scribble label map.

    Parameters
    ----------
    masks : (N, H, W) bool array or sequence of (H, W) bool arrays
        Instance masks; where they overlap the later one owns the pixel.
    classes : sequence of int
        Class id (1..254) of each mask.
    scribbles : ndarray of uint8, shape (H, W)
        255 unlabelled, 0 background, k class k.
    ignore : (H, W) bool array, optional
        Pixels that belong to no object.
    styles : sequence of str, optional
        Style of each object's scribble (default ``"unknown"``).

    Returns
    -------
    list of ObjectStats
        One per object with at least one visible pixel, in mask order.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((10, 10), bool); mask[2:7, 1:9] = True
    >>> scribbles = np.full((10, 10), 255, np.uint8); scribbles[4, 2:8] = 3
    >>> s = object_stats([mask], [3], scribbles)[0]
    >>> s.area_ratio, s.scribble_ratio, s.stroke_length
    (0.4, 0.15, 5.0)
    """
    stack = as_mask_stack(masks)
    ids = as_class_ids(classes, len(stack))
    scribbles = np.asarray(scribbles)
    if scribbles.shape != stack.shape[1:]:
        raise ConfigError(f"scribbles must have the image shape {stack.shape[1:]}, got {scribbles.shape}")
    owner = visible_owner(stack, ignore)
    pixels = owner.size
    found = []
    for index in range(len(stack)):
        visible = owner == index
        if visible.any():
            style = styles[index] if styles is not None else "unknown"
            found.append(one_object(visible, int(ids[index]), scribbles, pixels, index, style))
    return found


def directed_mean_distance(source: np.ndarray, target: np.ndarray) -> float:
    """Mean distance from each ``source`` pixel to the nearest ``target`` pixel."""
    # A k-d tree of the target's pixels: scribbles are thin, so this is far cheaper than
    # a distance transform of the whole frame, and as exact.
    distances, _ = cKDTree(np.argwhere(target)).query(np.argwhere(source))
    return float(distances.mean())


def chamfer_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Chamfer distance of two pixel sets (mean of both directed means); NaN if one is empty."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if not a.any() or not b.any():
        return math.nan
    return (directed_mean_distance(a, b) + directed_mean_distance(b, a)) / 2.0


def dilated_iou(a: np.ndarray, b: np.ndarray, radius: int, within: np.ndarray | None = None) -> float:
    """IoU of two pixel sets dilated by a disk of ``radius`` (0: none), restricted to ``within``; NaN if both empty."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if radius > 0:
        footprint = disk(radius).astype(bool)
        a, b = ndimage.binary_dilation(a, footprint), ndimage.binary_dilation(b, footprint)
    if within is not None:
        a, b = a & within, b & within
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else math.nan


@dataclass(frozen=True)
class Agreement:
    """How two scribble sets agree on one object."""

    object: int
    label: int
    area: int
    pixels_a: int
    pixels_b: int
    chamfer: float  # symmetric Chamfer distance / sqrt(area); NaN if either scribble is empty
    iou: float  # IoU of the dilated scribbles within the object; NaN if both are empty


def agreement(
    masks: np.ndarray | Sequence[np.ndarray],
    classes: Sequence[int] | np.ndarray,
    scribbles_a: np.ndarray,
    scribbles_b: np.ndarray,
    *,
    ignore: np.ndarray | None = None,
    radius: int = 3,
) -> list[Agreement]:
    """Per-object agreement of two scribble label maps of the same image.

    Parameters
    ----------
    masks, classes, ignore
        As for :func:`object_stats`.
    scribbles_a, scribbles_b : ndarray of uint8, shape (H, W)
    radius : int
        Dilation radius (pixels) before the IoU.

    Returns
    -------
    list of Agreement
        One per object with at least one visible pixel.
    """
    stack = as_mask_stack(masks)
    ids = as_class_ids(classes, len(stack))
    for name, scribbles in (("scribbles_a", scribbles_a), ("scribbles_b", scribbles_b)):
        if np.shape(scribbles) != stack.shape[1:]:
            raise ConfigError(f"{name} must have the image shape {stack.shape[1:]}, got {np.shape(scribbles)}")
    owner = visible_owner(stack, ignore)
    found = []
    for index in range(len(stack)):
        visible = owner == index
        if not visible.any():
            continue
        box = mask_box(visible)
        pad = ((radius, radius), (radius, radius))
        mask = np.pad(visible[box], pad)
        label = int(ids[index])
        a = mask & (np.pad(scribbles_a[box], pad, constant_values=unlabelled_value(scribbles_a.dtype)) == label)
        b = mask & (np.pad(scribbles_b[box], pad, constant_values=unlabelled_value(scribbles_b.dtype)) == label)
        area = int(visible.sum())
        found.append(
            Agreement(
                index,
                label,
                area,
                int(a.sum()),
                int(b.sum()),
                chamfer_distance(a, b) / math.sqrt(area),
                dilated_iou(a, b, radius, mask),
            )
        )
    return found

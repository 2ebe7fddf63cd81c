"""How an annotator scribbles an object, measured on the skeleton of its scribble.

The measures of one object's scribble (its pixels on the object with the object's label),
the same for human and simulated scribbles:

- **length**: skeleton length / sqrt(object area) (1 per orthogonal, sqrt(2) per
  diagonal step);
- **depth**: mean over skeleton pixels of the distance to the nearest pixel outside the
  object divided by the object's inscribed radius (1 on its deepest point, near 0 on
  its boundary);
- **rim**: share of skeleton pixels with depth below :data:`RIM_DEPTH`;
- **strokes**: the scribble's 8-connected pieces on the object;
- **width**: the scribble's pixels on the object / (its skeleton length + 1), the brush
  width in pixels (NaN without a scribble);
- **share**: the scribble's pixels on the object / the object's area, how much of it a
  model learns from (NaN without a scribble);
- **reach**: mean over the object's pixels of the distance to the nearest scribble pixel
  on it / the object's inscribed radius, how far the labels must spread to fill it (0
  where the scribble covers it; NaN without a scribble);
- **edge**: the same mean over the object's edge pixels (those within 1.5 px of the
  outside), how far the labels must spread to reach the border with the next class;
- **across** (annular objects, those with a hole, alone; NaN on the others): mean over
  the scribble's pixels of their distance to the hole / (that + their distance to the
  outside), where across the ring the scribble runs (0.5: its middle, lower: nearer the
  hole).

Two scribbles of one object agree by their **Chamfer** distance: the mean of the two
directed mean nearest-pixel distances between their skeletons, / sqrt(object area).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from ..engine.vectorise import skeleton_length
from .metrics import boundary_distance, chamfer_distance, mask_box, visible_owner

#: Depth (distance to the boundary / inscribed radius) below which a skeleton pixel is on the rim.
RIM_DEPTH = 0.25
#: Distance to the outside (px) below which an object's pixel is on its edge: 4- and 8-neighbours of the outside.
EDGE_DEPTH = 1.5
#: The measures compared between humans and simulation, in table order.
MEASURES = ("length", "depth", "rim", "strokes", "width", "share", "reach", "edge", "across")
_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class StyleMeasures:
    """The style measures of one object's scribble (NaN depth and rim without a scribble)."""

    object: int
    area: int
    length: float
    depth: float
    rim: float
    strokes: int
    width: float
    share: float
    reach: float
    edge: float
    across: float = math.nan

    def value(self, measure: str) -> float:
        """The measure named ``measure`` (one of :data:`MEASURES`)."""
        return float(getattr(self, measure))


@dataclass(frozen=True, eq=False)
class ObjectFrame:
    """One visible object cropped to its box, with its boundary depth: what its measures need.

    The frame depends on the mask alone, so a comparison over many scribbles of one
    object builds it once.
    """

    index: int
    box: tuple[slice, slice]
    mask: np.ndarray
    depth: np.ndarray

    @classmethod
    def of(cls, mask: np.ndarray, index: int = 0) -> ObjectFrame:
        """The frame of a non-empty object ``mask`` (full image size)."""
        box = mask_box(mask)
        return cls(index, box, mask[box], boundary_distance(mask[box]))

    @cached_property
    def across(self) -> np.ndarray | None:
        """Per pixel of an annular object, its distance to the hole / (that + its distance to the
        outside); ``None`` for an object without a hole."""
        filled = ndimage.binary_fill_holes(self.mask)
        hole = filled & ~self.mask
        if not hole.any():
            return None
        to_hole, to_outside = ndimage.distance_transform_edt(~hole), boundary_distance(filled)
        return to_hole / np.maximum(to_hole + to_outside, 1e-12)

    def skeleton(self, label: int, scribbles: np.ndarray) -> np.ndarray:
        """Skeleton of the object's pixels that ``scribbles`` (full image size) labels ``label``."""
        return skeletonize(self.mask & (scribbles[self.box] == label))


def object_frames(masks: np.ndarray | Sequence[np.ndarray], ignore: np.ndarray | None = None) -> list[ObjectFrame]:
    """The frames of the visible objects (later masks own overlaps; ``ignore`` owns none), in mask order."""
    owner = visible_owner(masks, ignore)
    return [ObjectFrame.of(owner == index, index) for index in range(len(masks)) if (owner == index).any()]


def frame_measures(frame: ObjectFrame, label: int, scribbles: np.ndarray) -> StyleMeasures:
    """The style measures of the scribble ``label`` on one object (see the module docstring)."""
    area = int(frame.mask.sum())
    on = frame.mask & (scribbles[frame.box] == label)
    skeleton = skeletonize(on)
    radius = frame.depth.max()
    relative = frame.depth[skeleton] / radius
    length = skeleton_length(skeleton)
    drawn = bool(relative.size)
    reach = edge = math.nan
    if drawn:
        away = ndimage.distance_transform_edt(~on) / radius  # each pixel's distance to the scribble
        reach, edge = float(away[frame.mask].mean()), float(away[frame.mask & (frame.depth < EDGE_DEPTH)].mean())
    return StyleMeasures(
        object=frame.index,
        area=area,
        length=length / math.sqrt(area),
        depth=float(relative.mean()) if drawn else math.nan,
        rim=float((relative < RIM_DEPTH).mean()) if drawn else math.nan,
        strokes=int(ndimage.label(on, structure=_EIGHT)[1]),
        # n skeleton pixels in a row are n - 1 long and cover n pixels of stroke
        width=float(on.sum()) / (length + 1.0) if drawn else math.nan,
        share=float(on.sum()) / area if drawn else math.nan,
        reach=reach,
        edge=edge,
        across=float(frame.across[on].mean()) if drawn and frame.across is not None else math.nan,
    )


def style_measures(
    masks: np.ndarray | Sequence[np.ndarray],
    classes: Sequence[int] | np.ndarray,
    scribbles: np.ndarray,
    *,
    ignore: np.ndarray | None = None,
) -> list[StyleMeasures]:
    """The style measures of every visible object (later masks own overlaps; ``ignore`` owns none).

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((9, 30), bool); mask[1:8, 1:29] = True
    >>> scribbles = np.full((9, 30), 255, np.uint8); scribbles[4, 5:25] = 1
    >>> m = style_measures([mask], [1], scribbles)[0]
    >>> round(m.length, 3), m.depth, m.rim, m.strokes, m.width, round(m.share, 3), round(m.reach, 3)
    (1.357, 1.0, 0.0, 1, 1.0, 0.102, 0.536)
    """
    return [frame_measures(frame, int(classes[frame.index]), scribbles) for frame in object_frames(masks, ignore)]


def chamfer_ratio(frame_or_mask: ObjectFrame | np.ndarray, label: int, first: np.ndarray, second: np.ndarray) -> float:
    """Chamfer distance between two scribbles' skeletons on an object (its frame or mask) / sqrt(area).

    NaN if either scribble misses the object.
    """
    frame = frame_or_mask if isinstance(frame_or_mask, ObjectFrame) else ObjectFrame.of(frame_or_mask)
    a, b = (frame.skeleton(label, s) for s in (first, second))
    return chamfer_distance(a, b) / math.sqrt(frame.mask.sum())


#: Sectors around the objects that :func:`background_placement` counts.
SECTORS = 36


def background_placement(background: np.ndarray, objects: np.ndarray) -> tuple[float, float] | None:
    """Where an image's background scribble sits: ``(distance, around)``, or None without one or objects.

    ``distance``: the median distance of its pixels to the nearest object pixel, / the
    objects' equivalent radius (the radius of a disc of their total area); ``around``:
    the share of :data:`SECTORS` sectors around the objects' centroid that hold one of its
    pixels (1: all the way round).
    """
    if not background.any() or not objects.any():
        return None
    radius = math.sqrt(float(objects.sum()) / math.pi)
    distance = float(np.median(ndimage.distance_transform_edt(~objects)[background])) / radius
    rows, cols = np.nonzero(objects)
    drawn_rows, drawn_cols = np.nonzero(background)
    angles = np.arctan2(drawn_rows - rows.mean(), drawn_cols - cols.mean())
    sectors = np.unique(((angles + np.pi) / (2 * np.pi) * SECTORS).astype(int) % SECTORS)
    return distance, len(sectors) / SECTORS

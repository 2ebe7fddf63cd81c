"""How an annotator scribbles an object, measured on the skeleton of its scribble.

The measures of one object's scribble (its pixels on the object with the object's label),
the same for human and simulated scribbles:

- **length**: skeleton length / sqrt(object area) (1 per orthogonal, sqrt(2) per
  diagonal step);
- **depth**: mean over skeleton pixels of the distance to the nearest pixel outside the
  object divided by the object's inscribed radius (1 on its deepest point, near 0 on
  its boundary);
- **rim**: share of skeleton pixels with depth below :data:`RIM_DEPTH`;
- **strokes**: the scribble's 8-connected pieces on the object.

Two scribbles of one object agree by their **Chamfer** distance: the mean of the two
directed mean nearest-pixel distances between their skeletons, / sqrt(object area).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from skimage.morphology import skeletonize

from ..engine.vectorise import skeleton_length
from .metrics import boundary_distance, chamfer_distance, mask_box, visible_owner

#: Depth (distance to the boundary / inscribed radius) below which a skeleton pixel is on the rim.
RIM_DEPTH = 0.25
#: The measures compared between humans and simulation, in table order.
MEASURES = ("length", "depth", "rim", "strokes")
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

    def value(self, measure: str) -> float:
        """The measure named ``measure`` (one of :data:`MEASURES`)."""
        return float(getattr(self, measure))


def scribble_skeleton(mask: np.ndarray, label: int, scribbles: np.ndarray) -> np.ndarray:
    """Skeleton of the pixels of ``mask`` that ``scribbles`` labels ``label``."""
    return skeletonize(mask & (scribbles == label))


def object_measures(mask: np.ndarray, label: int, scribbles: np.ndarray, index: int = 0) -> StyleMeasures:
    """The style measures of the scribble ``label`` on one object ``mask`` (see the module docstring)."""
    box = mask_box(mask)
    mask, scribbles = mask[box], scribbles[box]
    area = int(mask.sum())
    on = mask & (scribbles == label)
    skeleton = skeletonize(on)
    depth = boundary_distance(mask)
    relative = depth[skeleton] / depth.max()
    return StyleMeasures(
        object=index, area=area, length=skeleton_length(skeleton) / math.sqrt(area),
        depth=float(relative.mean()) if relative.size else math.nan,
        rim=float((relative < RIM_DEPTH).mean()) if relative.size else math.nan,
        strokes=int(ndimage.label(on, structure=_EIGHT)[1]),
    )


def style_measures(
    masks: np.ndarray | Sequence[np.ndarray], classes: Sequence[int] | np.ndarray, scribbles: np.ndarray, *,
    ignore: np.ndarray | None = None,
) -> list[StyleMeasures]:
    """The style measures of every visible object (later masks own overlaps; ``ignore`` owns none).

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((9, 30), bool); mask[1:8, 1:29] = True
    >>> scribbles = np.full((9, 30), 255, np.uint8); scribbles[4, 5:25] = 1
    >>> m = style_measures([mask], [1], scribbles)[0]
    >>> round(m.length, 3), m.depth, m.rim, m.strokes
    (1.357, 1.0, 0.0, 1)
    """
    owner = visible_owner(masks, ignore)
    visible = [owner == index for index in range(len(classes))]
    return [object_measures(visible[index], int(label), scribbles, index)
            for index, label in enumerate(classes) if visible[index].any()]


def chamfer_ratio(mask: np.ndarray, label: int, first: np.ndarray, second: np.ndarray) -> float:
    """Chamfer distance between two scribbles' skeletons on ``mask`` / sqrt(area); NaN if one is empty."""
    box = mask_box(mask)
    mask = mask[box]
    a, b = (scribble_skeleton(mask, label, s[box]) for s in (first, second))
    return chamfer_distance(a, b) / math.sqrt(mask.sum())

"""What a simulation returns: strokes, the rasterised label map and skip records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

#: Value of unlabelled pixels in label maps.
UNLABELLED = 255
#: Class id of background.
BACKGROUND = 0

StrokeStyle = Literal["line", "boundary", "background", "human"]


@dataclass(frozen=True)
class Stroke:
    """One scribble stroke.

    Parameters
    ----------
    points : ndarray, shape (M, 2)
        The stroke's polyline as float ``(x, y)`` pixel coordinates, before clipping.
    label : int
        Class id painted by the stroke (0 for background).
    instance : int or None
        Index of the object in the input masks, ``None`` for background strokes.
    style : {"line", "boundary", "background", "human"}
        How the stroke was drawn (``"human"``: imported or recovered from pixels).
    """

    points: np.ndarray
    label: int
    instance: int | None
    style: StrokeStyle

    def to_dict(self, decimals: int = 2) -> dict:
        """Return a JSON-serialisable dict with points rounded to ``decimals``."""
        return {
            "points": np.round(self.points, decimals).tolist(),
            "label": int(self.label),
            "instance": None if self.instance is None else int(self.instance),
            "style": self.style,
        }


@dataclass
class ScribbleMap:
    """Scribbles simulated for one image.

    Attributes
    ----------
    label_map : ndarray of uint8, shape (H, W)
        255 where unlabelled, 0 on background scribbles, ``k`` on scribbles of class ``k``.
    strokes : list of Stroke
        The vector strokes behind ``label_map``.
    skipped : list of (int or None, str)
        ``(instance index, reason)`` for every object (or ``None`` for the background)
        that got no stroke.
    """

    label_map: np.ndarray
    strokes: list[Stroke] = field(default_factory=list)
    skipped: list[tuple[int | None, str]] = field(default_factory=list)

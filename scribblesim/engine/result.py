"""What a simulation returns: strokes, the rasterised label map and skip records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

#: Value of unlabelled pixels in 8-bit label maps (class ids up to 254).
UNLABELLED = 255
#: Value of unlabelled pixels in 16-bit label maps (class ids up to 65534).
UNLABELLED_16 = 65535
#: The largest class id an 8-bit label map holds.
MAX_8BIT_CLASS = UNLABELLED - 1
#: Class id of background.
BACKGROUND = 0


def label_dtype(max_class: int) -> type[np.unsignedinteger]:
    """The label map dtype that holds class ids up to ``max_class`` and the unlabelled value:
    uint8 up to 254, else uint16."""
    return np.uint8 if max_class <= MAX_8BIT_CLASS else np.uint16


def unlabelled_value(dtype: np.dtype | type) -> int:
    """The unlabelled (ignore) value of label maps of ``dtype``: its largest value (255, 65535)."""
    return int(np.iinfo(dtype).max)


def as_label_dtype(label_map: np.ndarray, dtype: type) -> np.ndarray:
    """``label_map`` as ``dtype`` (uint8 or uint16), its unlabelled value carried over (255 <-> 65535).

    Raises ValueError where a class id does not fit ``dtype``.
    """
    if label_map.dtype == dtype:
        return label_map
    unlabelled = label_map == unlabelled_value(label_map.dtype)
    if label_map[~unlabelled].max(initial=0) >= unlabelled_value(dtype):
        raise ValueError(f"class id {int(label_map[~unlabelled].max())} does not fit a {np.dtype(dtype)} label map")
    converted: np.ndarray = label_map.astype(dtype)
    converted[unlabelled] = unlabelled_value(dtype)
    return converted


StrokeStyle = Literal["line", "boundary", "background", "human"]
#: Why an object, or a part of the background, got no stroke.
SkipKind = Literal[
    "empty mask",  # no pixel at all (the dataset adapter may say why)
    "hidden by later objects or ignored pixels",
    "too small",  # min_area or fewer visible pixels
    "no background pixels",
    "no skeleton to trace",
    "skeleton too complex",  # beyond the work bound of skeleton trees (MAX_TREE_NODES)
    "background stroke left no pixel",
    "no room around the objects",  # background_placement "around": its loop lies on the image border
    "dropped",  # by scribblesim degrade's scribble-drop
]


@dataclass(frozen=True)
class Skip:
    """An object (``instance``) or a background part (``instance`` None) without a stroke.

    ``kind`` is what the build counts; ``reason`` is the whole sentence, with its details.
    """

    instance: int | None
    kind: SkipKind
    reason: str

    @classmethod
    def of(cls, instance: int | None, kind: SkipKind, detail: str = "") -> Skip:
        """The skip with reason ``kind`` followed by ``detail`` (e.g. `` (3 px <= min_area 5)``)."""
        return cls(instance, kind, f"{kind}{detail}")

    @classmethod
    def background(cls, part: int, kind: SkipKind, detail: str = "") -> Skip:
        """The skip of background part ``part``: ``background part {part}: {kind}{detail}``."""
        return cls(None, kind, f"background part {part}: {kind}{detail}")

    def to_dict(self) -> dict:
        """The JSON record of a strokes file."""
        return {"instance": self.instance, "kind": self.kind, "reason": self.reason}


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
    label_map : ndarray of uint8 or uint16, shape (H, W)
        255 (uint16: 65535) where unlabelled, 0 on background scribbles, ``k`` on
        scribbles of class ``k`` (uint16 where an id is above 254, see :func:`label_dtype`).
    strokes : list of Stroke
        The vector strokes behind ``label_map``.
    skipped : list of Skip
        Every object (``instance`` its index) or background part (``instance`` None)
        that got no stroke, with its kind and reason.
    """

    label_map: np.ndarray
    strokes: list[Stroke] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)

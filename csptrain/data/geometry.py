"""The records of a stage-2 sample's geometry: its random :class:`Draw` and image :class:`Window` s.

They live apart from the code that uses them (:mod:`~csptrain.data.stage2`,
:mod:`~csptrain.data.crop_window`, :mod:`~csptrain.data.distance`) so that those modules
import this one and not each other: no import circle, type-checking imports included.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Draw:
    """One sample's random geometry, applied alike to the image and every label and map.

    ``size`` is (height, width) after scaling, ``angle`` degrees counter-clockwise about
    the centre (0: not rotated), ``offset`` the crop's top-left corner in the padded image.
    """

    size: tuple[int, int]
    angle: float
    blur: bool
    flip: bool
    offset: tuple[int, int]


@dataclass(frozen=True)
class Window:
    """Rows ``top:bottom`` and columns ``left:right`` of an image (end exclusive)."""

    top: int
    bottom: int
    left: int
    right: int

    @property
    def shape(self) -> tuple[int, int]:
        return self.bottom - self.top, self.right - self.left

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.top, self.bottom), slice(self.left, self.right)

    def grown(self, margin: int, shape: tuple[int, ...]) -> Window:
        """This window with ``margin`` more pixels on each side, clipped to an image of ``shape``."""
        return Window(
            max(0, self.top - margin),
            min(shape[0], self.bottom + margin),
            max(0, self.left - margin),
            min(shape[1], self.right + margin),
        )

    def within(self, outer: Window) -> Window:
        """This window in the coordinates of ``outer`` (which contains it)."""
        return Window(self.top - outer.top, self.bottom - outer.top, self.left - outer.left, self.right - outer.left)

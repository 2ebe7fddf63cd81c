"""Where a stage-2 crop takes its pixels from: a :class:`~csptrain.data.stage2.Draw` mapped back to the source.

The augmentation resizes, rotates, flips, pads and crops whole images (see
:func:`~csptrain.data.stage2.apply_draw`); the crop shows only part of them. This module
works out which part: the region of the rotated image the crop shows (:func:`shown_region`,
for the image) and, for label maps and DPM maps, which source pixel each crop pixel takes
(:class:`CropSampling`), so that only a window of the source is ever read or computed.

Nearest-neighbour sampling must take exactly the pixel OpenCV takes, or labels and maps would
move by a pixel where a coordinate rounds half-way. :func:`resize_index` is OpenCV's
``INTER_NEAREST`` resize (``floor(x * src / dst)``, the same since OpenCV 2). The rotation's
rounding changed with OpenCV 4.11 (10-bit fixed point before; float32 fused multiply-adds
after, with a scalar tail of up to one SIMD block per row that rounds differently), so
:func:`nearest_arithmetic` finds, once per process, which of the known arithmetics this cv2
uses, on probe geometries where they disagree. If none reproduces it, :func:`crop_sampling`
returns None and the caller falls back to full-resolution arrays.
"""

from __future__ import annotations

import functools
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import cv2
import numpy as np

if TYPE_CHECKING:
    from .stage2 import Draw


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


def resize_index(source: int, size: int) -> np.ndarray:
    """The source index of each of ``size`` outputs of OpenCV's ``INTER_NEAREST`` resize from ``source``."""
    step = 1.0 / (size / source)  # as OpenCV: 1 / (dst / src) in double
    return np.minimum(np.floor(np.arange(size) * step).astype(np.int64), source - 1)


def inverse_rotation(size: tuple[int, int], angle: float) -> np.ndarray:
    """The destination-to-source matrix (6,) of :func:`~csptrain.data.stage2.rotate`, inverted as OpenCV does."""
    height, width = size
    m = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0).ravel().astype(np.float64)
    det = m[0] * m[4] - m[1] * m[3]
    det = 1.0 / det if det != 0 else 0.0
    a11, a22 = m[4] * det, m[0] * det
    m[0], m[1], m[3], m[4] = a11, m[1] * -det, m[3] * -det, a22
    m[2], m[5] = -m[0] * m[2] - m[1] * m[5], -m[3] * m[2] - m[4] * m[5]
    return m


class NearestArithmetic(Protocol):
    """OpenCV's source pixel (X, Y) of destination rows x columns under ``warpAffine(..., INTER_NEAREST)``.

    ``m`` is the destination-to-source matrix (6,), ``rows`` and ``cols`` destination
    coordinates, ``width`` the destination width (OpenCV's per-row loop depends on it).
    """

    def __call__(
        self, m: np.ndarray, rows: np.ndarray, cols: np.ndarray, width: int
    ) -> tuple[np.ndarray, np.ndarray]: ...


@dataclass(frozen=True)
class FixedPoint:
    """OpenCV up to 4.10: 10-bit fixed point, a row part and a column part rounded separately."""

    def __call__(self, m: np.ndarray, rows: np.ndarray, cols: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        y, x = rows.astype(np.float64)[:, None], cols.astype(np.float64)[None, :]

        def axis(a0: float, a1: float, a2: float) -> np.ndarray:
            row = np.rint((a1 * y + a2) * 1024).astype(np.int64) + 512
            return (row + np.rint(a0 * x * 1024).astype(np.int64)) >> 10

        return axis(m[0], m[1], m[2]), axis(m[3], m[4], m[5])


def _f32(values: np.ndarray) -> np.ndarray:
    """``values`` rounded to float32 (and held as float64, where the next sum is exact)."""
    return values.astype(np.float32).astype(np.float64)


@dataclass(frozen=True)
class Float32:
    """OpenCV 4.11 on: float32 coefficients; SIMD blocks of ``block`` columns, then a scalar tail.

    In a block, x = fma(m0, col, (m1 * row) + m2); in the tail, fma(m0, col, m1 * row) + m2
    (as the compiler contracts it), every step rounded to float32. Products of float32
    numbers and pixel coordinates are exact in float64, so rounding the float64 result of
    each step to float32 reproduces them.
    """

    block: int

    def __call__(self, m: np.ndarray, rows: np.ndarray, cols: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
        m32 = _f32(np.asarray(m))
        y, x = rows.astype(np.float64)[:, None], cols.astype(np.float64)
        tail = x >= max(0, -(-(width - self.block) // self.block) * self.block)

        def axis(a0: float, a1: float, a2: float) -> np.ndarray:
            # float32 rounding of the exact float64 sum, then rint (half to even, as cvRound)
            rounded = np.add(a0 * x, _f32(_f32(a1 * y) + a2)).astype(np.float32)
            rounded = np.rint(rounded, out=rounded).astype(np.int64)
            if tail.any():
                rounded[:, tail] = np.rint((_f32(a0 * x[tail] + _f32(a1 * y)) + a2).astype(np.float32))
            return rounded

        return axis(m32[0], m32[1], m32[2]), axis(m32[3], m32[4], m32[5])


#: The arithmetics tried, most likely first (AVX2, AVX-512 and 128-bit SIMD blocks; OpenCV 4.10).
CANDIDATES: tuple[NearestArithmetic, ...] = (Float32(16), Float32(32), Float32(8), FixedPoint())
#: (height, width, angle) of rotations on which the candidates above disagree pairwise on some
#: pixel (found by search: they agree on all but about 1 pixel in 10^5).
PROBES = ((1590, 144, -9.42621983256111), (1857, 154, -5.955679444239237), (1563, 186, -5.657034851629437))


def _reproduces(arithmetic: NearestArithmetic, height: int, width: int, angle: float) -> bool:
    """Whether ``arithmetic`` gives cv2's rotation (float32 and uint8 arrays) of a ``height`` x ``width`` image."""
    m = inverse_rotation((height, width), angle)
    x, y = arithmetic(m, np.arange(height), np.arange(width), width)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    flags = dict(flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT)
    index = np.arange(height * width, dtype=np.float32).reshape(height, width)  # exact below 2^24
    if not np.array_equal(
        cv2.warpAffine(index, matrix, (width, height), borderValue=-1, **flags),  # type: ignore[call-overload]
        np.where(inside, y * width + x, -1),
    ):
        return False
    for source, taken in ((np.arange(width), x), (np.arange(height)[:, None], y)):  # labels are uint8
        codes = np.ascontiguousarray(np.broadcast_to(source % 251, (height, width)), dtype=np.uint8)
        moved = cv2.warpAffine(codes, matrix, (width, height), borderValue=255, **flags)  # type: ignore[call-overload]
        if not np.array_equal(moved, np.where(inside, taken % 251, 255)):
            return False
    return True


def _resize_reproduced() -> bool:
    """Whether :func:`resize_index` gives cv2's nearest resize (float32 and uint8), up and down."""
    for source, size in ((997, 1391), (1391, 997), (480, 233)):
        expected = resize_index(source, size)
        row = np.arange(source)[None, :]
        for dtype in (np.float32, np.uint8):
            moved = cv2.resize((row % 251).astype(dtype), (size, 1), interpolation=cv2.INTER_NEAREST)
            if not np.array_equal(moved[0], expected % 251):
                return False
    return True


@functools.cache
def nearest_arithmetic() -> NearestArithmetic | None:
    """The arithmetic of this process's cv2 nearest-neighbour rotation, or None (with a warning) if unknown."""
    if _resize_reproduced():
        for arithmetic in CANDIDATES:
            if all(_reproduces(arithmetic, *probe) for probe in PROBES):
                return arithmetic
    warnings.warn(
        f"OpenCV {cv2.__version__}: nearest-neighbour rounding not recognised; stage-2 labels and DPM maps "
        "are computed at full resolution (slower, same values)",
        RuntimeWarning,
        stacklevel=2,
    )
    return None


def _padding(draw: Draw, crop_size: int) -> tuple[int, int]:
    """(top, left) padding of :func:`~csptrain.data.stage2.pad_around` for ``draw``."""
    height, width = draw.size
    return max(0, crop_size - height) // 2, max(0, crop_size - width) // 2


def crop_rows_cols(draw: Draw, crop_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column of the rotated (not yet flipped) image that each crop row and column shows.

    Values outside ``[0, height)`` and ``[0, width)`` are padding.
    """
    pad_top, pad_left = _padding(draw, crop_size)
    rows = np.arange(crop_size) + draw.offset[0] - pad_top
    cols = np.arange(crop_size) + draw.offset[1] - pad_left
    return rows, (draw.size[1] - 1 - cols if draw.flip else cols)


def shown_region(draw: Draw, crop_size: int) -> Window | None:
    """The region of the resized and rotated image that the crop shows (None: only padding)."""
    rows, cols = crop_rows_cols(draw, crop_size)
    region = Window(int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
    region = region.grown(0, draw.size)
    return region if region.bottom > region.top and region.right > region.left else None


def placement(draw: Draw, crop_size: int, region: Window) -> tuple[int, int]:
    """The crop pixel (row, column) where ``region`` of the rotated image lands, flipped if the draw flips."""
    pad_top, pad_left = _padding(draw, crop_size)
    left = draw.size[1] - region.right if draw.flip else region.left
    return region.top + pad_top - draw.offset[0], left + pad_left - draw.offset[1]


@dataclass(frozen=True)
class CropSampling:
    """For each crop pixel, the source pixel nearest-neighbour augmentation takes, inside ``window``.

    ``index`` (crop_size x crop_size) indexes the ravelled window; ``window.shape[0] *
    window.shape[1]`` (one past the window) marks padding and rotated-in corners.
    ``window`` is None when the crop shows no source pixel.
    """

    window: Window | None
    index: np.ndarray

    def take(self, values: np.ndarray, fill: float) -> np.ndarray:
        """The crop of ``values``, an array over :attr:`window` or the whole image; ``fill`` elsewhere."""
        if self.window is None:
            return np.full(self.index.shape, fill, dtype=values.dtype)
        if values.shape[:2] != self.window.shape:
            values = values[self.window.slices]
        pool = np.empty(values.size + 1, dtype=values.dtype)
        pool[:-1].reshape(values.shape)[...] = values
        pool[-1] = fill
        return np.take(pool, self.index)


def rotated_reach(m: np.ndarray, region: Window, size: tuple[int, int], margin: int) -> Window | None:
    """The part of the unrotated image (of ``size``) that rotating ``region`` by ``m`` reads (None: none).

    The bounding box of the region's corners mapped by ``m`` (an affine map is extreme at
    corners), ``margin`` pixels wider for rounding and interpolation, within the image.
    """
    ys, xs = np.array([region.top, region.bottom - 1]), np.array([region.left, region.right - 1])
    source_x = m[0] * xs[None, :] + m[1] * ys[:, None] + m[2]
    source_y = m[3] * xs[None, :] + m[4] * ys[:, None] + m[5]
    reach = Window(
        math.floor(source_y.min()) - margin,
        math.ceil(source_y.max()) + margin + 1,
        math.floor(source_x.min()) - margin,
        math.ceil(source_x.max()) + margin + 1,
    ).grown(0, size)
    return reach if reach.bottom > reach.top and reach.right > reach.left else None


def _offsets(source: np.ndarray, start: int, stop: int, first: int, step: int, outside: int) -> np.ndarray:
    """Lookup, shifted by one: ``(source[i] - first) * step`` for i in [start, stop), ``outside`` elsewhere."""
    table = np.full(len(source) + 2, outside, dtype=np.intp)
    table[start + 1 : stop + 1] = (source[start:stop] - first) * step
    return table


def _clipped(index: np.ndarray, size: int) -> np.ndarray:
    """``index`` clipped to ``[0, size)`` in place (``np.take(mode="clip")`` is ten times slower)."""
    np.minimum(index, size - 1, out=index)
    return np.maximum(index, 0, out=index)


def crop_sampling(draw: Draw, shape: tuple[int, ...], crop_size: int) -> CropSampling | None:
    """Where each pixel of ``draw``'s crop of an image of ``shape`` comes from (None: cv2's rounding unknown)."""
    height, width = draw.size
    rotation = None
    if draw.angle:
        arithmetic = nearest_arithmetic()
        if arithmetic is None:
            return None
        rotation = arithmetic, inverse_rotation(draw.size, draw.angle)
    # the rows and columns of the resized (unrotated) image that the crop reads
    reach = shown_region(draw, crop_size)
    if reach is not None and rotation is not None:
        reach = rotated_reach(rotation[1], reach, draw.size, 1)  # nearest moves by half a pixel
    if reach is None:
        return CropSampling(None, np.zeros((crop_size, crop_size), dtype=np.intp))
    source_row, source_col = resize_index(shape[0], height), resize_index(shape[1], width)
    window = Window(
        int(source_row[reach.top]),
        int(source_row[reach.bottom - 1]) + 1,
        int(source_col[reach.left]),
        int(source_col[reach.right - 1]) + 1,
    )
    outside = window.shape[0] * window.shape[1]
    row_offset = _offsets(source_row, reach.top, reach.bottom, window.top, window.shape[1], outside)
    col_offset = _offsets(source_col, reach.left, reach.right, window.left, 1, outside)
    # the block of the crop that is not padding
    rows, cols = crop_rows_cols(draw, crop_size)
    in_rows = np.flatnonzero((rows >= 0) & (rows < height))
    in_cols = np.flatnonzero((cols >= 0) & (cols < width))
    block = slice(in_rows[0], in_rows[-1] + 1), slice(in_cols[0], in_cols[-1] + 1)
    if rotation is None:
        inner = row_offset[rows[block[0]] + 1][:, None] + col_offset[cols[block[1]] + 1][None, :]
    else:
        arithmetic, m = rotation
        x, y = arithmetic(m, rows[block[0]], cols[block[1]], width)
        # coordinates outside the image (rotated-in corners) land on ``outside`` or beyond
        inner = np.take(row_offset, _clipped(y + 1, len(row_offset))) + np.take(
            col_offset, _clipped(x + 1, len(col_offset))
        )
        np.minimum(inner, outside, out=inner)
    index = np.full((crop_size, crop_size), outside, dtype=np.intp)
    index[block] = inner
    return CropSampling(window, index)

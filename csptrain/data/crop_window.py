"""Where a stage-2 crop takes its pixels from: a :class:`~csptrain.data.geometry.Draw` mapped back to the source.

The augmentation resizes, rotates, flips, pads and crops whole images (see
:func:`~csptrain.data.stage2.apply_draw`); the crop shows only part of them. This module
works out which part: the region of the rotated image the crop shows (:func:`shown_region`,
for the image) and, for label maps and DPM maps, which source pixel each crop pixel takes
(:class:`CropSampling`), so that only a window of the source is ever read or computed.

The source pixel is computed here, with numpy, not read off OpenCV: the resize takes
``floor(x * src / dst)`` (:func:`resize_index`, OpenCV's ``INTER_NEAREST`` rule since
OpenCV 2) and the rotation the nearest pixel of the float64 inverse map
(:func:`nearest_source`). OpenCV's warp rounds the rotation its own way, and that way
changes between versions (1/1024-pixel fixed point up to 4.10, float32 from 4.11, neither
in 5.1), so copying it bit for bit would tie the fast path to one OpenCV. The two
differ only where a coordinate lies within rounding error of a half-pixel
(:func:`half_pixel_ties`, a fraction of a percent of the pixels), where either neighbour
is as near: the crops have the same distribution, and the whole-image
:func:`~csptrain.data.stage2.apply_draw` remains the tests' reference.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .geometry import Draw, Window


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


def rotation_source(m: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each of ``rows`` x ``cols`` of the rotated image lies in the unrotated one: (x, y), float64.

    ``m`` is the destination-to-source matrix (6,) of :func:`inverse_rotation`.
    """
    x = np.add.outer(m[1] * rows + m[2], m[0] * cols)
    y = np.add.outer(m[4] * rows + m[5], m[3] * cols)
    return x, y


def nearest_source(m: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The unrotated pixel (x, y) nearest to each of ``rows`` x ``cols`` of the rotated image (see :func:`rotation_source`).

    Rounded half to even in float64, as ``cvRound``; OpenCV's own ``INTER_NEAREST`` warp may
    take the other pixel only where a coordinate lies within its rounding error of a
    half-pixel (see :func:`half_pixel_ties`).
    """
    x, y = rotation_source(m, rows, cols)
    return np.rint(x, out=x).astype(np.intp), np.rint(y, out=y).astype(np.intp)


def half_pixel_ties(m: np.ndarray, rows: np.ndarray, cols: np.ndarray, tolerance: float = 2e-3) -> np.ndarray:
    """Which of ``rows`` x ``cols`` of the rotated image have a source coordinate within ``tolerance`` of a half-pixel.

    There the nearest pixel is a matter of rounding: any arithmetic, this module's or one
    OpenCV version's (float32 since 4.11, 1/1024-pixel fixed point before), may take either
    neighbour. Everywhere else every arithmetic takes the same pixel. The default tolerance
    covers OpenCV 4.10's fixed point (up to 1/1024 pixel off) and float32 coordinates up
    to 4096 pixels.
    """
    ties = np.zeros((len(rows), len(cols)), dtype=bool)
    for coordinate in rotation_source(m, rows, cols):
        ties |= np.abs(coordinate - np.floor(coordinate) - 0.5) < tolerance
    return ties


def rounding_ties(draw: Draw, crop_size: int, tolerance: float = 2e-3) -> np.ndarray:
    """Crop pixels (bool, crop_size x crop_size) whose rotation source is a half-pixel tie (:func:`half_pixel_ties`)."""
    if not draw.angle:
        return np.zeros((crop_size, crop_size), dtype=bool)
    rows, cols = crop_rows_cols(draw, crop_size)
    return half_pixel_ties(inverse_rotation(draw.size, draw.angle), rows, cols, tolerance)


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


def crop_sampling(draw: Draw, shape: tuple[int, ...], crop_size: int) -> CropSampling:
    """Where each pixel of ``draw``'s crop of an image of ``shape`` comes from."""
    height, width = draw.size
    rotation = inverse_rotation(draw.size, draw.angle) if draw.angle else None
    # the rows and columns of the resized (unrotated) image that the crop reads
    reach = shown_region(draw, crop_size)
    if reach is not None and rotation is not None:
        reach = rotated_reach(rotation, reach, draw.size, 1)  # nearest moves by half a pixel
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
        x, y = nearest_source(rotation, rows[block[0]], cols[block[1]])
        # coordinates outside the image (rotated-in corners) land on ``outside`` or beyond
        inner = np.take(row_offset, _clipped(y + 1, len(row_offset))) + np.take(
            col_offset, _clipped(x + 1, len(col_offset))
        )
        np.minimum(inner, outside, out=inner)
    index = np.full((crop_size, crop_size), outside, dtype=np.intp)
    index[block] = inner
    return CropSampling(window, index)

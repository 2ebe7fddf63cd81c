"""The class palette used by label PNGs and overlays (the PASCAL VOC colour map)."""

from __future__ import annotations

import functools

import cv2
import numpy as np

from ..engine.result import label_dtype, unlabelled_value


def voc_palette(size: int = 256, unlabelled: int = 255) -> np.ndarray:
    """The PASCAL VOC colour map: (size, 3) uint8, class k's colour from the bits of k.

    Index ``unlabelled`` (255 for 8-bit labels, 65535 for 16-bit) is white, as in the
    published ScribbleCOCO PNGs.
    """
    index = np.arange(size)
    palette = np.zeros((size, 3), dtype=np.uint8)
    for shift in range(7, -1, -1):  # three bits of k per shift, from the lowest
        value = index >> (3 * (7 - shift))
        for channel in range(3):
            palette[:, channel] |= (((value >> channel) & 1) << shift).astype(np.uint8)
    if size > unlabelled:
        palette[unlabelled] = 255
    return palette


PALETTE = voc_palette()


@functools.cache
def _palette_16() -> np.ndarray:
    palette = voc_palette(65536, unlabelled=65535)
    palette.flags.writeable = False  # shared
    return palette


def palette_of(dtype: np.dtype | type) -> np.ndarray:
    """The palette that a label map of ``dtype`` indexes: 256 colours for uint8, 65536 for uint16."""
    return PALETTE if np.dtype(dtype) == np.uint8 else _palette_16()


def class_palette(count: int) -> np.ndarray:
    """The colours of class ids ``0..count - 1``."""
    return palette_of(label_dtype(count - 1))[:count]


#: Colour of background scribbles in overlays (the palette's black would not show).
OVERLAY_BACKGROUND = np.array([255, 255, 255], dtype=np.uint8)


def colorize(label_map: np.ndarray) -> np.ndarray:
    """RGB image (H, W, 3) of a uint8 or uint16 label map in the class palette."""
    return palette_of(label_map.dtype)[label_map]


def overlay(image: np.ndarray, label_map: np.ndarray, dim: float = 0.5, outline: bool = True) -> np.ndarray:
    """Scribbles drawn over a dimmed RGB image; background scribbles in white.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
    label_map : ndarray of uint8 or uint16, shape (H, W)
        255 (uint16: 65535) = unlabelled (left as the image).
    dim : float
        Factor applied to the image so that the strokes stand out.
    outline : bool
        Ring every stroke with a 1-px contrasting outline (black around pale strokes,
        white around dark ones), so that dark classes do not vanish on the photo.
    """
    out = (image.astype(np.float32) * dim).astype(np.uint8)
    labelled = label_map != unlabelled_value(label_map.dtype)
    out[labelled] = colorize(label_map)[labelled]
    out[label_map == 0] = OVERLAY_BACKGROUND
    if outline and labelled.any():
        luminance = np.where(labelled, out.astype(np.float32) @ LUMINANCE, -1.0)
        nearby = cv2.dilate(luminance, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=-1.0)
        ring = (nearby >= 0) & ~labelled
        out[ring] = np.where((nearby[ring] > 140)[:, None], 0, 255).astype(np.uint8)
    return out


#: ITU-R BT.601 weights: the luminance that decides an outline's colour.
LUMINANCE = np.array([0.299, 0.587, 0.114], dtype=np.float32)

"""The class palette used by label PNGs and overlays (the PASCAL VOC colour map)."""

from __future__ import annotations

import cv2
import numpy as np


def voc_palette(size: int = 256) -> np.ndarray:
    """The PASCAL VOC colour map: (size, 3) uint8, class k's colour from the bits of k.

    Index 255 (unlabelled/ignore) is white, as in the published ScribbleCOCO PNGs.
    """
    palette = np.zeros((size, 3), dtype=np.uint8)
    for index in range(size):
        value, colour = index, [0, 0, 0]
        for shift in range(7, -1, -1):
            for channel in range(3):
                colour[channel] |= ((value >> channel) & 1) << shift
            value >>= 3
        palette[index] = colour
    if size > 255:
        palette[255] = 255
    return palette


PALETTE = voc_palette()


#: Colour of background scribbles in overlays (the palette's black would not show).
OVERLAY_BACKGROUND = np.array([255, 255, 255], dtype=np.uint8)


def colorize(label_map: np.ndarray) -> np.ndarray:
    """RGB image (H, W, 3) of a uint8 label map in the class palette."""
    return PALETTE[label_map]


def overlay(image: np.ndarray, label_map: np.ndarray, dim: float = 0.5, outline: bool = True) -> np.ndarray:
    """Scribbles drawn over a dimmed RGB image; background scribbles in white.

    Parameters
    ----------
    image : ndarray of uint8, shape (H, W, 3)
    label_map : ndarray of uint8, shape (H, W)
        255 = unlabelled (left as the image).
    dim : float
        Factor applied to the image so that the strokes stand out.
    outline : bool
        Ring every stroke with a 1-px contrasting outline (black around pale strokes,
        white around dark ones), so that dark classes do not vanish on the photo.
    """
    out = (image.astype(np.float32) * dim).astype(np.uint8)
    labelled = label_map != 255
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

"""Label maps as csptrain holds them: uint16 class ids with :data:`IGNORE` 65535, whatever the PNGs' depth.

A build with at most 254 classes writes 8-bit PNGs (255 unlabelled), a wider one 16-bit
PNGs (65535). csptrain reads both into uint16, so that one ignore value serves the
scribbles, the pseudo-labels' uncertain pixels, the crops' padding and the ground truth's
ignored pixels, and class 255 of a wide dataset is a class like any other. It writes
label PNGs (pseudo-labels, predictions) at the depth its classes need.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scribblesim.engine.result import UNLABELLED_16, as_label_dtype, label_dtype
from scribblesim.sets.files import label_png_bytes
from scribblesim.sets.scribble_set import read_label_map

#: Unlabelled (scribbles), uncertain (pseudo-labels), padding and ignored ground truth.
IGNORE = UNLABELLED_16
#: The dtype of every label map csptrain reads.
LABEL_DTYPE = np.uint16


def as_labels(label_map: np.ndarray) -> np.ndarray:
    """A uint8 (255 unlabelled) or uint16 label map as csptrain's uint16, :data:`IGNORE` where unlabelled."""
    return as_label_dtype(label_map, LABEL_DTYPE)


def read_labels(path: Path) -> np.ndarray:
    """A label PNG (8- or 16-bit) as uint16 class ids, :data:`IGNORE` where unlabelled."""
    return as_labels(read_label_map(path))


def class_map_dtype(num_classes: int) -> type:
    """The dtype of a map of class ids ``0 .. num_classes - 1`` as it is handed out: uint8 up to 255 classes."""
    return label_dtype(num_classes - 1)


def labels_png(labels: np.ndarray, num_classes: int) -> bytes:
    """A label PNG of ``labels`` (ids below ``num_classes``, :data:`IGNORE` or 255 unlabelled): 8-bit
    up to 255 classes (255 unlabelled), else 16-bit (65535)."""
    labels = np.asarray(labels)
    if labels.dtype not in (np.uint8, np.uint16):
        labels = labels.astype(LABEL_DTYPE)
    wide = class_map_dtype(num_classes) == np.uint16
    return label_png_bytes(labels, "gray16" if wide else "gray")

"""A scribble set's strokes as regions of pixels, for the formats that carry pixels (brush, mask)."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from ..engine.raster import stroke_pixels
from ..engine.result import unlabelled_value


def stroke_regions(strokes: list[dict], label_map: np.ndarray, width: int) -> Iterator[tuple[np.ndarray, int]]:
    """Each stroke's pixels in the set (its raster where the set holds its class), then any of the
    set's pixels no stroke covers, by class: together exactly the set's pixels."""
    covered = np.zeros(label_map.shape, dtype=bool)
    for stroke in strokes:
        label = stroke["label"]
        mask = np.zeros(label_map.shape, dtype=bool)
        rows, cols = stroke_pixels(
            np.asarray(stroke["points"], dtype=np.float64).reshape(-1, 2), label_map.shape, width
        )
        mask[rows, cols] = True
        mask &= label_map == label
        if mask.any():
            covered |= mask
            yield mask, label
    for label in np.unique(label_map[~covered & (label_map != unlabelled_value(label_map.dtype))]):
        yield ~covered & (label_map == label), int(label)

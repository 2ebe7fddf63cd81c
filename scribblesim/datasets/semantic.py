"""Datasets that ship semantic masks only (VOC's SegmentationClass, ADE20K, most medical sets).

Each mask is a PNG of class ids (grayscale, or a palette PNG whose indices are the ids):
0 is background, ``ignore`` (255 by default) is no class, and every other value is a class
of the class table (the ``"classes"`` part of :mod:`.folder`'s table). An ``ignore`` of 0
(ADE20K's "other") leaves the dataset without background. The instances of an
image are the 8-connected components of each of its classes
(:func:`~.base.class_components`, the rule ScribbleACDC's build uses too): touching objects
of one class become one instance, which is all a semantic mask can tell.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..engine.result import UNLABELLED
from ..errors import DatasetError
from .base import LoadedSample, class_components, read_png
from .folder import ClassTable, image_for

#: The PIL modes a class-id mask may have: grayscale or palette (indices are the ids).
_MASK_MODES = ("L", "P")


@dataclass(frozen=True)
class SemanticSample:
    """One class-id mask, the classes it may hold and its image (if any)."""

    name: str
    mask_png: Path
    classes: frozenset[int]
    ignore: int
    image_path: Path | None

    def load(self) -> LoadedSample:
        """The mask's components as instances; its ``ignore`` pixels as ignore (255 in the ground truth)."""
        ids = read_png(self.mask_png, _MASK_MODES).astype(np.int64)
        if ids.ndim != 2:
            raise DatasetError(f"{self.mask_png}: expected a single-channel class-id PNG")
        ignore = ids == self.ignore
        unknown = sorted(set(np.unique(ids[~ignore]).tolist()) - self.classes - {0})
        if unknown:
            raise DatasetError(f"{self.mask_png}: class ids {unknown} are not in the class table")
        masks, classes = class_components(ids, skip=(0, self.ignore))
        semantic = np.where(ignore, UNLABELLED, ids).astype(np.uint8)
        return LoadedSample(self.name, self.name, masks, classes, ignore, semantic, self.image_path)


def semantic_samples(
    masks_dir: Path, table: ClassTable, images_dir: Path | None = None, ignore: int = UNLABELLED
) -> list[SemanticSample]:
    """One sample per PNG in ``masks_dir``, sorted by name; the images are ``images_dir``'s of the same stem."""
    masks_dir = Path(masks_dir)
    if not masks_dir.is_dir():
        raise DatasetError(f"{masks_dir}: mask folder not found")
    if images_dir is not None and not Path(images_dir).is_dir():
        raise DatasetError(f"{images_dir}: image folder not found")
    if not 0 <= ignore <= UNLABELLED:
        raise DatasetError(f"--ignore: must lie in 0..255, got {ignore}")
    if ignore in table.class_ids:
        raise DatasetError(f"{table.path}: class id {ignore} is also the ignore value")
    pngs = sorted(masks_dir.glob("*.png"))
    if not pngs:
        raise DatasetError(f"{masks_dir}: no class-id PNGs")
    return [SemanticSample(png.stem, png, table.class_ids, ignore, image_for(images_dir, png.stem)) for png in pngs]

"""PASCAL VOC: ``SegmentationObject`` + ``SegmentationClass`` PNGs (255 = void/boundary).

Each object takes the class most of its pixels have in ``SegmentationClass``. Void
pixels stay 255 in the ground truth and are never scribbled.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from .base import LoadedSample, masks_from_ids, read_png
from .naming import image_names

CLASS_NAMES = [
    "background",
    "aeroplane",
    "bicycle",
    "bird",
    "boat",
    "bottle",
    "bus",
    "car",
    "cat",
    "chair",
    "cow",
    "diningtable",
    "dog",
    "horse",
    "motorbike",
    "person",
    "pottedplant",
    "sheep",
    "sofa",
    "train",
    "tvmonitor",
]
VOID = 255


@dataclass(frozen=True)
class VocSample:
    """One VOC image: object and class PNGs and the JPEG."""

    name: str
    object_png: Path
    class_png: Path
    image_path: Path

    def load(self) -> LoadedSample:
        """Decode objects and their classes; the class PNG is the ground truth."""
        objects = read_png(self.object_png).astype(np.int64)
        semantic = read_png(self.class_png)
        if objects.shape != semantic.shape or objects.ndim != 2:
            raise DatasetError(
                f"{self.object_png}: shape {objects.shape} differs from {self.class_png} {semantic.shape}"
            )
        values = [int(v) for v in np.unique(objects) if v not in (0, VOID)]
        masks = masks_from_ids(objects, values)
        classes = []
        for mask in masks:
            counts = np.bincount(semantic[mask & (semantic != VOID)].astype(np.int64), minlength=1)
            class_id = int(np.argmax(counts)) if counts.sum() else 0
            if not 1 <= class_id < len(CLASS_NAMES):
                raise DatasetError(f"{self.class_png}: object has unknown class id {class_id}")
            classes.append(class_id)
        ignore = (semantic == VOID) | (objects == VOID)
        return LoadedSample(
            self.name,
            self.name,
            masks,
            np.array(classes, dtype=np.int64),
            ignore,
            semantic.astype(np.uint8),
            self.image_path,
        )


def voc_samples(root: Path, split: str) -> list[VocSample]:
    """Samples listed in ``root/ImageSets/Segmentation/{split}.txt``."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: VOC root not found")
    listing = root / "ImageSets" / "Segmentation" / f"{split}.txt"
    if not listing.is_file():
        raise DatasetError(f"{listing}: split file not found")
    # an image listed twice is one image; a listed path with folders still gets a name without them
    listed = list(dict.fromkeys(line.strip() for line in listing.read_text().splitlines() if line.strip()))
    return [
        VocSample(
            name,
            root / "SegmentationObject" / f"{n}.png",
            root / "SegmentationClass" / f"{n}.png",
            root / "JPEGImages" / f"{n}.jpg",
        )
        for n, name in zip(listed, image_names(listed))
    ]

"""COCO instance annotations (via pycocotools).

Category ids map to contiguous 1..80 in category-id order. Images without any
annotation record are left out of a build (see ``CocoSample.annotated``). Crowd annotations are never
scribbled. In the dense ground truth they are painted first, beneath every other
instance, with their class; they are excluded from background scribbles, so that no
scribble ever lies on a crowd of objects.
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO

from ..simulate import semantic_map
from .base import DatasetError, LoadedSample, read_json


@dataclass(frozen=True)
class CocoSample:
    """One COCO image's own annotation records: all a worker needs (no global index)."""

    name: str
    image_id: int
    height: int
    width: int
    segmentations: tuple
    classes: tuple[int, ...]
    crowd: tuple[bool, ...]
    image_path: Path

    @property
    def annotated(self) -> bool:
        """Whether the image has any annotation record, crowd included.

        A build leaves out an image without one (the paper's counts, and the reference
        simulator's ``if len(current_anns) <= 0: continue``); crowd-only images are kept.
        """
        return len(self.segmentations) > 0

    def _decode(self, segmentation) -> np.ndarray:
        if isinstance(segmentation, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, self.height, self.width))
        elif isinstance(segmentation.get("counts"), list):
            rle = mask_utils.frPyObjects(segmentation, self.height, self.width)
        else:
            rle = segmentation
        return mask_utils.decode(rle).astype(bool)

    def load(self) -> LoadedSample:
        """Decode the masks and build the dense ground truth."""
        shape = (self.height, self.width)
        objects = [i for i, crowd in enumerate(self.crowd) if not crowd]
        masks = np.zeros((len(objects), *shape), dtype=bool)
        for row, i in enumerate(objects):
            masks[row] = self._decode(self.segmentations[i])
        classes = np.array([self.classes[i] for i in objects], dtype=np.int64)
        ignore = np.zeros(shape, dtype=bool)
        semantic = semantic_map(masks, classes)
        for i, crowd in enumerate(self.crowd):
            if crowd:
                region = self._decode(self.segmentations[i]) & (semantic == 0) & ~ignore
                semantic[region] = self.classes[i]
                ignore |= region
        return LoadedSample(self.name, self.image_id, masks, classes, ignore, semantic, self.image_path)


def coco_class_names(annotation_file: Path) -> list[str]:
    """Class names in contiguous-id order (index 0 is background)."""
    categories = _read_json(annotation_file).get("categories", [])
    return ["background"] + [c["name"] for c in sorted(categories, key=lambda c: c["id"])]


def _read_json(path: Path) -> dict:
    data = read_json(path, "annotation file not found")
    if not isinstance(data, dict):
        raise DatasetError(f"{path}: expected a COCO json object")
    return data


def coco_samples(root: Path, split: str) -> list[CocoSample]:
    """One sample per image of ``root/annotations/instances_{split}.json``, by image id.

    Raises
    ------
    DatasetError
        If the root, the annotation file or its contents are missing or malformed.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: COCO root not found")
    annotation_file = root / "annotations" / f"instances_{split}.json"
    data = _read_json(annotation_file)
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise DatasetError(f"{annotation_file}: missing the '{key}' list")
    coco = COCO()
    coco.dataset = data
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            coco.createIndex()
    except (KeyError, TypeError) as error:
        raise DatasetError(f"{annotation_file}: malformed COCO record ({error!r})") from None
    contiguous = {cid: k + 1 for k, cid in enumerate(sorted(coco.cats))}
    samples = []
    for image_id in sorted(coco.imgs):
        image = coco.imgs[image_id]
        annotations = coco.imgToAnns.get(image_id, [])
        unknown = {a["category_id"] for a in annotations} - contiguous.keys()
        if unknown:
            raise DatasetError(f"{annotation_file}: image {image_id} uses unknown category ids {sorted(unknown)}")
        samples.append(
            CocoSample(
                name=Path(image["file_name"]).stem,
                image_id=int(image_id),
                height=int(image["height"]),
                width=int(image["width"]),
                segmentations=tuple(a["segmentation"] for a in annotations),
                classes=tuple(contiguous[a["category_id"]] for a in annotations),
                crowd=tuple(bool(a.get("iscrowd", 0)) for a in annotations),
                image_path=root / split / image["file_name"],
            )
        )
    return samples

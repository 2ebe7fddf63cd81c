"""Cityscapes ``*_gtFine_instanceIds.png`` (class*1000+k for instances).

The label table comes from cityscapesscripts. The 8 instance classes map to 1..8;
everything else is background 0. Pixels of an instance class without an instance id
(Cityscapes "groups", e.g. a crowd of cars) keep their class in the ground truth but
are not scribbled, and are not background either.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cityscapesscripts.helpers.labels import name2label

from ..engine.simulate import semantic_map
from ..errors import DatasetError
from .base import LoadedSample, masks_from_ids, read_png

INSTANCE_CLASSES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
CLASS_NAMES = ["background", *INSTANCE_CLASSES]
#: cityscapesscripts label id -> contiguous class id.
LABEL_TO_CLASS = {name2label[name].id: k + 1 for k, name in enumerate(INSTANCE_CLASSES)}
INSTANCE_SUFFIX = "_gtFine_instanceIds.png"


@dataclass(frozen=True)
class CityscapesSample:
    """One Cityscapes image: its instance-id PNG and its image."""

    name: str
    instance_png: Path
    image_path: Path

    def load(self) -> LoadedSample:
        """Decode instances (class*1000+k) into masks, classes, groups and ground truth."""
        ids = read_png(self.instance_png).astype(np.int64)
        if ids.ndim != 2:
            raise DatasetError(f"{self.instance_png}: expected a single-channel instance-id PNG")
        values = [int(v) for v in np.unique(ids) if v >= 1000 and v // 1000 in LABEL_TO_CLASS]
        masks = masks_from_ids(ids, values)
        classes = np.array([LABEL_TO_CLASS[v // 1000] for v in values], dtype=np.int64)
        semantic = semantic_map(masks, classes) if values else np.zeros(ids.shape, np.uint8)
        groups = np.isin(ids, list(LABEL_TO_CLASS))
        lookup = np.zeros(max(LABEL_TO_CLASS) + 1, dtype=np.uint8)
        for label_id, class_id in LABEL_TO_CLASS.items():
            lookup[label_id] = class_id
        semantic[groups] = lookup[ids[groups]]
        return LoadedSample(self.name, self.name, masks, classes, groups, semantic, self.image_path)


def cityscapes_samples(root: Path, split: str) -> list[CityscapesSample]:
    """Samples of ``root/gtFine/{split}/*/*_gtFine_instanceIds.png``, sorted by name."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: Cityscapes root not found")
    gt_dir = root / "gtFine" / split
    if not gt_dir.is_dir():
        raise DatasetError(f"{gt_dir}: split folder not found")
    files = sorted(gt_dir.glob(f"*/*{INSTANCE_SUFFIX}"))
    if not files:
        raise DatasetError(f"{gt_dir}: no *{INSTANCE_SUFFIX} files")
    samples = []
    for path in files:
        name = path.name[: -len(INSTANCE_SUFFIX)]
        image = root / "leftImg8bit" / split / path.parent.name / f"{name}_leftImg8bit.png"
        samples.append(CityscapesSample(name, path, image))
    return samples

"""Write Cityscapes-, VOC- and folder-format datasets made of real COCO masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from scipy import ndimage

from scribblesim.datasets.coco import coco_samples
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
from scribblesim.sets.palette import PALETTE

# COCO contiguous class -> Cityscapes label id (person 24, car 26, bus 28, truck 27,
# motorcycle 32, bicycle 33, train 31); other COCO classes become road (7), a
# non-instance label that must end up as background.
COCO_TO_CITYSCAPES = {1: 24, 2: 33, 3: 26, 4: 32, 6: 28, 7: 31, 8: 27}
CITYSCAPES_TO_CLASS = {24: 1, 26: 3, 27: 4, 28: 5, 31: 6, 32: 7, 33: 8}
ROAD = 7


def coco_images(count: int, start: int = 0):
    """Decoded COCO sample images (skipping ones without objects)."""
    loaded = [s.load() for s in coco_samples(coco_sample_root(), COCO_SAMPLE_SPLIT)]
    return [s for s in loaded if len(s.classes) >= 2][start : start + count]


def _save_png(path: Path, array: np.ndarray, palette: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    if palette:
        image = Image.fromarray(array.astype(np.uint8), mode="P")
        image.putpalette(PALETTE.ravel().tolist())
    image.save(path)


def write_cityscapes(root: Path, samples, split: str = "train", city: str = "testcity") -> list[str]:
    """A Cityscapes tree (16-bit *_gtFine_instanceIds.png + leftImg8bit PNGs); returns names.

    Objects of Cityscapes instance classes get ids class*1000+k; the first such object is
    written without an instance id (a Cityscapes "group"); other objects become road.
    """
    names = []
    for n, sample in enumerate(samples):
        name = f"{city}_{n:06d}_000019"
        ids = np.zeros(sample.semantic.shape, dtype=np.uint16)
        ids[:] = ROAD
        grouped = False
        for k, (mask, cls) in enumerate(zip(sample.masks, sample.classes)):
            label = COCO_TO_CITYSCAPES.get(int(cls))
            if label is None:
                continue
            if not grouped:
                ids[mask] = label
                grouped = True
            else:
                ids[mask] = label * 1000 + k
        _save_png(root / "gtFine" / split / city / f"{name}_gtFine_instanceIds.png", ids)
        image = np.asarray(Image.open(sample.image_path).convert("RGB"))
        _save_png(root / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png", image)
        names.append(name)
    return names


def write_voc(root: Path, samples, split: str = "train") -> list[str]:
    """A VOC tree with SegmentationObject/Class PNGs and a 255 void band around objects."""
    names = []
    for n, sample in enumerate(samples):
        name = f"2007_{n:06d}"
        objects = np.zeros(sample.semantic.shape, dtype=np.uint8)
        classes = np.zeros(sample.semantic.shape, dtype=np.uint8)
        for k, (mask, cls) in enumerate(zip(sample.masks, sample.classes)):
            objects[mask] = k + 1
            classes[mask] = 1 + int(cls) % 20
        edges = ndimage.morphological_gradient(objects, size=3) > 0
        objects[edges] = 255
        classes[edges] = 255
        _save_png(root / "SegmentationObject" / f"{name}.png", objects, palette=True)
        _save_png(root / "SegmentationClass" / f"{name}.png", classes, palette=True)
        (root / "JPEGImages").mkdir(parents=True, exist_ok=True)
        Image.open(sample.image_path).save(root / "JPEGImages" / f"{name}.jpg")
        names.append(name)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Segmentation" / f"{split}.txt").write_text("".join(f"{n}\n" for n in names))
    return names


def write_folder(root: Path, samples) -> tuple[Path, Path, Path]:
    """Instance-id PNGs (uint16), images and a class table; returns (instances, images, table)."""
    instances, images = root / "instances", root / "images"
    table = {"classes": {}, "instances": {}}
    for n, sample in enumerate(samples):
        ids = np.zeros(sample.semantic.shape, dtype=np.uint16)
        for mask, cls in zip(sample.masks, sample.classes):
            instance_id = 100 * n + int(cls)
            ids[mask] = instance_id
            table["instances"][str(instance_id)] = int(cls)
            table["classes"][str(int(cls))] = f"coco_{int(cls)}"
        _save_png(instances / f"img_{n:03d}.png", ids)
        images.mkdir(parents=True, exist_ok=True)
        Image.open(sample.image_path).save(images / f"img_{n:03d}.jpg")
    table_path = root / "classes.json"
    table_path.write_text(json.dumps(table))
    return instances, images, table_path


def build_tiny(
    out: Path, count: int = 3, seeds: tuple[int, ...] = (1,), split: str = COCO_SAMPLE_SPLIT, label_png: str = "gray"
) -> Path:
    """A ``scribblesim build`` of the first ``count`` sample images into ``out`` (prefix ``tiny``)."""
    from scribblesim.datasets.coco import coco_class_names
    from scribblesim.engine.config import SimConfig
    from scribblesim.sets.build import BuildSpec, build

    root = coco_sample_root()
    samples = coco_samples(root, COCO_SAMPLE_SPLIT)[:count]
    names = coco_class_names(root / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json")
    spec = BuildSpec(out, split, "tiny", seeds, SimConfig(), label_png=label_png)
    build(samples, spec, dataset="coco", class_names=names, jobs=1, progress=False)
    return out

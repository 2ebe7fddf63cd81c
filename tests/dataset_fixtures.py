"""Write Cityscapes-, VOC- and folder-format datasets made of real COCO masks, and synthetic ACDC volumes."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
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


def wide_coco_file(path: Path, classes: int = 299, image_ids: tuple[int, ...] | None = None) -> Path:
    """The embedded sample's annotations (of ``image_ids``, default all) with categories added
    before its own, ``classes`` in all: its 80 become ids ``classes - 79 .. classes``."""
    data = json.loads((coco_sample_root() / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json").read_text())
    if image_ids is not None:
        data["images"] = [i for i in data["images"] if i["id"] in image_ids]
        data["annotations"] = [a for a in data["annotations"] if a["image_id"] in image_ids]
    for category in data["categories"]:
        category["id"] += 1000
    for annotation in data["annotations"]:
        annotation["category_id"] += 1000
    extra = [
        {"id": k + 1, "name": f"extra {k}", "supercategory": "x"} for k in range(classes - len(data["categories"]))
    ]
    data["categories"] = extra + data["categories"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def build_tiny(
    out: Path,
    count: int = 3,
    seeds: tuple[int, ...] = (1,),
    split: str = COCO_SAMPLE_SPLIT,
    label_png: str = "gray",
    shrink: int = 1,
) -> Path:
    """A ``scribblesim build`` of the first ``count`` sample images into ``out`` (prefix ``tiny``).

    ``shrink`` > 1 then shrinks every image, ground truth and scribble map of the build by
    that factor (labels by nearest neighbour), for trainer tests of plumbing that need real
    images and scribbles but not 640 x 480 of them.
    """
    from scribblesim.datasets.coco import coco_class_names
    from scribblesim.engine.config import SimConfig
    from scribblesim.sets.build import BuildSpec, build

    root = coco_sample_root()
    samples = coco_samples(root, COCO_SAMPLE_SPLIT)[:count]
    names = coco_class_names(root / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json")
    spec = BuildSpec(out, split, "tiny", seeds, SimConfig(), label_png=label_png)
    build(samples, spec, dataset="coco", class_names=names, jobs=1, progress=False)
    if shrink > 1:
        assert label_png == "gray", "shrink writes grayscale label PNGs"
        _shrink_build(out, shrink)
    return out


def _shrink_build(out: Path, factor: int) -> None:
    """Shrink a build's images (area) and label maps (nearest) by ``factor``, in place."""
    import cv2

    for image_path in (out / "JPEGImages").iterdir():
        image = cv2.imread(str(image_path))
        size = (max(1, image.shape[1] // factor), max(1, image.shape[0] // factor))
        image_path.unlink()  # a symlink to the embedded sample: replaced by a file of its own
        cv2.imwrite(str(image_path), cv2.resize(image, size, interpolation=cv2.INTER_AREA))
    for folder in [out / "SegmentationClassAug", *out.glob("tiny_scribble_r*")]:
        for label_path in folder.glob("*.png"):
            label = np.asarray(Image.open(label_path))
            size = (max(1, label.shape[1] // factor), max(1, label.shape[0] // factor))
            Image.fromarray(cv2.resize(label, size, interpolation=cv2.INTER_NEAREST)).save(label_path)


# Synthetic ScribbleACDC volumes as WSL4MIS distributes them (h5), for the tests of `scribblesim build acdc`
# and csptrain's ACDC training; never ACDC itself.
ACDC_HEIGHT, ACDC_WIDTH, ACDC_SLICES = 40, 48, 3
ACDC_PATIENTS = (1, 2, 3, 4, 5, 6)
ACDC_FRAMES = (1, 12)


def _ellipse(cy: float, cx: float, ry: float, rx: float) -> np.ndarray:
    """The pixels of a slice inside an axis-aligned ellipse."""
    y, x = np.mgrid[:ACDC_HEIGHT, :ACDC_WIDTH]
    return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0


def frame_arrays(patient: int, frame: int) -> dict[str, np.ndarray]:
    """One synthetic frame: image (float32 [0, 1]), label (uint8) and scribble (uint16, 4 = unlabelled).

    Slice 0 has no structure (a base slice), the others an LV disk in an MYO ring with an
    RV beside it; the scribbles are a short line in each structure and a background line.
    """
    rng = np.random.default_rng(patient * 100 + frame)
    label = np.zeros((ACDC_SLICES, ACDC_HEIGHT, ACDC_WIDTH), dtype=np.uint8)
    scribble = np.full((ACDC_SLICES, ACDC_HEIGHT, ACDC_WIDTH), 4, dtype=np.uint16)
    for z in range(1, ACDC_SLICES):
        cy, cx = 20 + rng.integers(-2, 3), 28 + rng.integers(-2, 3)
        size = 6 + z + frame % 2
        label[z][_ellipse(cy, cx - size - 6, size + 1, 4)] = 1  # RV
        label[z][_ellipse(cy, cx, size + 3, size + 3)] = 2  # MYO ring
        label[z][_ellipse(cy, cx, size, size)] = 3  # LV cavity
        for value, dx in ((1, -size - 6), (3, 0)):
            scribble[z, cy - 2 : cy + 3, cx + dx] = value
        scribble[z, cy, cx + size + 1 : cx + size + 3] = 2
    scribble[:, 2, 3 : ACDC_WIDTH - 3] = 0  # a background line on every slice
    image = rng.random((ACDC_SLICES, ACDC_HEIGHT, ACDC_WIDTH)).astype(np.float32) * 0.5 + label * 0.15
    image = (image - image.min()) / (image.max() - image.min())
    return {"image": image.astype(np.float32), "label": label, "scribble": scribble}


def write_h5(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """One gzip-compressed h5 file with a dataset per array, as WSL4MIS's volumes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w") as handle:
        for key, value in arrays.items():
            handle.create_dataset(key, data=value, compression="gzip")


def h5_root(tmp: Path, patients=ACDC_PATIENTS, edit=None) -> Path:
    """A WSL4MIS root: ACDC_training_volumes/patientNNN_frameFF.h5; ``edit(stem, arrays)`` changes a frame."""
    root = tmp / "acdc"
    for patient in patients:
        for frame in ACDC_FRAMES:
            stem = f"patient{patient:03d}_frame{frame:02d}"
            arrays = frame_arrays(patient, frame)
            if edit is not None:
                edit(stem, arrays)
            write_h5(root / "ACDC_training_volumes" / f"{stem}.h5", arrays)
    return root

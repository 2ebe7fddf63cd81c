"""COCO instance annotations: the file read with msgspec, the masks decoded with pycocotools.

Category ids map to contiguous 1..80 in category-id order. Images without any
annotation record are left out of a build (see ``CocoSample.annotated``). Crowd annotations are never
scribbled. In the dense ground truth they are painted first, beneath every other
instance, with their class; they are excluded from background scribbles, so that no
scribble ever lies on a crowd of objects.

A malformed file as a whole (not JSON, missing lists, unknown category ids) raises
:class:`DatasetError`. A malformed image or annotation record only makes its image
unusable: :meth:`CocoSample.load` raises :class:`DatasetError` with the reason, and a build
skips that image. Annotations whose ``image_id`` names no image are listed in
:attr:`CocoSplit.orphans`.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import msgspec
import numpy as np
from pycocotools import mask as mask_utils

from ..engine.simulate import semantic_map
from ..errors import DatasetError
from .base import DatasetSplit, LoadedSample, read_json
from .naming import image_names

#: Polygons may reach this many image sizes beyond the image (pycocotools overflows far out).
_POLYGON_REACH = 4
#: Larger images are refused (their masks would not fit in memory).
_MAX_PIXELS = 10**8


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
    image_path: Path | None
    annotation_ids: tuple = ()
    problem: str | None = None

    @property
    def annotated(self) -> bool:
        """Whether the image has any annotation record, crowd included.

        A build leaves out an image without one (the paper's counts, and the reference
        simulator's ``if len(current_anns) <= 0: continue``); crowd-only images are kept.
        An unusable image record counts as annotated, so that :meth:`load` reports it.
        """
        return self.problem is not None or len(self.segmentations) > 0

    def _decode(self, index: int, out: np.ndarray | None = None) -> tuple[np.ndarray, str | None]:
        """Mask of annotation ``index`` (written into ``out`` if given) and, if it is empty, why."""
        segmentation = _decode_segmentation(self.segmentations[index])
        problem = segmentation_problem(segmentation, self.height, self.width)
        if problem is None and isinstance(segmentation, list):
            points = np.concatenate([np.asarray(p, dtype=float) for p in segmentation]).reshape(-1, 2)
            low, high = points.min(axis=0), points.max(axis=0)
            size = np.array([self.width, self.height])
            if (high < 0).any() or (low > size).any():
                return np.zeros((self.height, self.width), dtype=bool), "polygon lies outside the image"
            if (low < -_POLYGON_REACH * size).any() or (high > (_POLYGON_REACH + 1) * size).any():
                problem = (
                    f"polygon reaches far outside the image (x {low[0]:g}..{high[0]:g}, y {low[1]:g}..{high[1]:g})"
                )
        if problem is not None:
            which = self.annotation_ids[index] if index < len(self.annotation_ids) else f"#{index}"
            raise DatasetError(f"annotation {which}: {problem}")
        if isinstance(segmentation, list):
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, self.height, self.width))
        elif isinstance(segmentation["counts"], list):
            rle = mask_utils.frPyObjects(segmentation, self.height, self.width)
        else:
            rle = segmentation
        mask = _decode_rle(rle, (self.height, self.width), out)
        if mask.any():
            return mask, None
        return mask, "polygon covers no pixel" if isinstance(segmentation, list) else "RLE has no pixel"

    def load(self) -> LoadedSample:
        """Decode the masks and build the dense ground truth.

        Raises
        ------
        DatasetError
            If the image or one of its annotation records is unusable (the message says why).
        """
        if self.problem is not None:
            raise DatasetError(self.problem)
        shape = (self.height, self.width)
        objects = [i for i, crowd in enumerate(self.crowd) if not crowd]
        masks = np.zeros((len(objects), *shape), dtype=bool)
        empty = {}
        for row, i in enumerate(objects):
            why = self._decode(i, masks[row])[1]
            if why is not None:
                empty[row] = why
        classes = np.array([self.classes[i] for i in objects], dtype=np.int64)
        ignore = np.zeros(shape, dtype=bool)
        semantic = semantic_map(masks, classes)
        for i, crowd in enumerate(self.crowd):
            if crowd:
                region = self._decode(i)[0] & (semantic == 0) & ~ignore
                semantic[region] = self.classes[i]
                ignore |= region
        return LoadedSample(self.name, self.image_id, masks, classes, ignore, semantic, self.image_path, empty)


def _decode_rle(rle: dict, shape: tuple[int, int], out: np.ndarray | None) -> np.ndarray:
    """The boolean mask of an RLE, C-ordered, in ``out`` (a new array if None)."""
    out = np.empty(shape, dtype=bool) if out is None else out
    # pycocotools decodes column by column (Fortran order); OpenCV's transpose makes that
    # C order at a third of the cost of NumPy's copy, straight into ``out``.
    cv2.transpose(mask_utils.decode(rle).T, dst=out.view(np.uint8))
    return out


#: Coordinates and sizes at or beyond this magnitude are refused.
_LARGEST = 1e15


def _number(value) -> bool:
    """A JSON number of sane magnitude (no bool, NaN, infinity or 400-digit integer)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) < _LARGEST


def _rle_string_counts(counts: str) -> list[int]:
    """Run lengths of a compressed COCO RLE string (pycocotools' ``rleFrString``)."""
    runs: list[int] = []
    value = shift = 0
    for char in counts:
        code = ord(char) - 48
        value |= (code & 0x1F) << shift
        shift += 5
        if code & 0x20:
            continue
        if code & 0x10:
            value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
        value = shift = 0
    return runs


def segmentation_problem(segmentation, height: int, width: int) -> str | None:
    """Why a COCO ``segmentation`` cannot be decoded for a ``height x width`` image, or None.

    Polygons need an even number (at least 6) of finite coordinates; an RLE needs the
    image's size and run lengths that cover the image exactly (pycocotools checks neither).
    """
    if isinstance(segmentation, list):
        if not segmentation:
            return "segmentation has no polygon"
        for polygon in segmentation:
            if not isinstance(polygon, list) or not all(_number(v) for v in polygon):
                return "polygon is not a list of finite numbers"
            if len(polygon) < 6 or len(polygon) % 2:
                return f"polygon with {len(polygon)} coordinates (needs an even number, at least 6)"
        return None
    if isinstance(segmentation, dict):
        size, counts = segmentation.get("size"), segmentation.get("counts")
        if size != [height, width]:
            return f"RLE size {size} is not the image's [{height}, {width}]"
        if isinstance(counts, str):
            counts = _rle_string_counts(counts)
        if not isinstance(counts, list) or not all(type(c) is int and c >= 0 for c in counts):
            return "RLE counts are not non-negative integers"
        if sum(counts) != height * width:
            return f"RLE counts cover {sum(counts)} pixels, not the image's {height * width}"
        return None
    if segmentation is None:
        return "annotation without 'segmentation'"
    return f"segmentation is {segmentation!r:.40}, not polygons or an RLE"


def _image_problem(image: dict) -> str | None:
    """Why an image record is unusable, or None."""
    for key in ("file_name", "height", "width"):
        if key not in image:
            return f"image record without '{key}'"
    if not isinstance(image["file_name"], str) or not image["file_name"]:
        return f"'file_name' {image['file_name']!r} is not a file name"
    for key in ("height", "width"):
        value = image[key]
        if not (_number(value) and value == int(value) and value >= 1):
            return f"'{key}' {value!r} is not a positive integer"
    if image["height"] * image["width"] > _MAX_PIXELS:
        return f"image of {image['width']:g} x {image['height']:g} pixels is too large"
    return None


@dataclass(frozen=True)
class CocoSplit:
    """One split of a COCO annotation file."""

    samples: list[CocoSample]
    class_names: list[str]
    orphans: list[dict]
    """Annotations whose ``image_id`` names no image: ``{"annotation": id, "image_id": ...}``."""


def _class_names(categories: list, path: Path) -> list[str]:
    if not all(
        isinstance(c, dict) and isinstance(c.get("id"), int) and isinstance(c.get("name"), str) for c in categories
    ):
        raise DatasetError(f"{path}: every category needs an integer 'id' and a string 'name'")
    return ["background"] + [c["name"] for c in sorted(categories, key=lambda c: c["id"])]


def coco_class_names(annotation_file: Path) -> list[str]:
    """Class names in contiguous-id order (index 0 is background)."""
    categories = _read_coco_json(annotation_file, _Categories).categories
    if not isinstance(categories, list):
        raise DatasetError(f"{annotation_file}: missing the 'categories' list")
    return _class_names(categories, annotation_file)


class _Annotation(msgspec.Struct):
    """What a build reads of a COCO annotation record; its other fields (box, area) are skipped."""

    image_id: Any
    category_id: Any
    id: Any = None
    iscrowd: Any = 0
    segmentation: msgspec.Raw = msgspec.Raw()
    """The record's segmentation as raw JSON, parsed only when its image is built (empty: none)."""


class _CocoFile(msgspec.Struct):
    """A COCO-format file as a build reads it."""

    images: Any = None
    annotations: list[_Annotation] | None = None
    categories: Any = None


class _Categories(msgspec.Struct):
    categories: Any = None


def _decode_segmentation(segmentation):
    """A segmentation as JSON values, from an annotation's raw JSON (None where it had none)."""
    if not isinstance(segmentation, msgspec.Raw):
        return segmentation  # already values (a sample made by hand)
    # Python's json, as the file's fallback reading: it takes NaN, reported as a bad polygon
    return json.loads(bytes(segmentation)) if len(segmentation) else None


def _read_coco_json(path: Path, layout: type[msgspec.Struct] = _CocoFile):
    """The records of a COCO-format file, read into ``layout``.

    A compiled typed parse that keeps each segmentation as its raw JSON, so that no polygon
    coordinate becomes a Python object before its image is built (the figures at
    ScribbleCOCO's size: docs/benchmarks.md). A file that strict JSON refuses (NaN, as
    Python's ``json.dump`` writes it) is read by Python's ``json``.
    """
    try:
        content = Path(path).read_bytes()
    except FileNotFoundError:
        raise DatasetError(f"{path}: annotation file not found") from None
    try:
        return msgspec.json.decode(content, type=layout)
    except msgspec.ValidationError as error:
        raise DatasetError(f"{path}: malformed COCO file ({error})") from None
    except msgspec.DecodeError:
        pass
    data = read_json(path, "annotation file not found")
    if isinstance(data, dict) and isinstance(data.get("annotations"), list):
        for record in data["annotations"]:
            if isinstance(record, dict) and "segmentation" in record:
                record["segmentation"] = msgspec.Raw(json.dumps(record["segmentation"]).encode())
    try:
        return msgspec.convert(data, layout)
    except msgspec.ValidationError as error:
        raise DatasetError(f"{path}: malformed COCO file ({error})") from None


def read_coco(root: Path, split: str) -> CocoSplit:
    """Samples (one per image, by image id), class names and orphan annotations of a split.

    Reads ``root/annotations/instances_{split}.json``; images are ``root/{split}/{file_name}``
    (see :func:`read_coco_file`, for a COCO-format file anywhere).

    Raises
    ------
    DatasetError
        If the root, the annotation file or its structure is missing or malformed.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: COCO root not found")
    return read_coco_file(root / "annotations" / f"instances_{split}.json", root / split)


def read_coco_file(annotation_file: Path, images: Path) -> CocoSplit:
    """Samples, class names and orphan annotations of a COCO-format file, with its images in ``images``.

    Any COCO-format instance file: LVIS, Objects365, a CVAT or Roboflow export. Image
    paths are ``images/{file_name}``.

    Raises
    ------
    DatasetError
        If the annotation file or its structure is missing or malformed.
    """
    annotation_file, images = Path(annotation_file), Path(images)
    data = _read_coco_json(annotation_file)
    for key in ("images", "annotations", "categories"):
        if not isinstance(getattr(data, key), list):
            raise DatasetError(f"{annotation_file}: missing the '{key}' list")
    names = _class_names(data.categories, annotation_file)
    try:  # the index pycocotools' createIndex makes, from the typed records
        images_by_id = {image["id"]: image for image in data.images}
        by_image: dict = {}
        for annotation in data.annotations:
            by_image.setdefault(annotation.image_id, []).append(annotation)
    except (KeyError, TypeError) as error:
        raise DatasetError(f"{annotation_file}: malformed COCO record ({error!r})") from None
    try:
        image_ids = sorted(images_by_id)
    except TypeError:
        raise DatasetError(f"{annotation_file}: image ids of mixed types") from None
    contiguous = {cid: k + 1 for k, cid in enumerate(sorted(c["id"] for c in data.categories))}
    problems = {image_id: _image_problem(images_by_id[image_id]) for image_id in image_ids}
    file_names = {image_id: _usable_file_name(images_by_id[image_id], problems[image_id]) for image_id in image_ids}
    # two images of one base name in two folders each get a name of their own
    output_names = image_names([file_names[i] or str(i) for i in image_ids], [str(i) for i in image_ids])
    samples = []
    for image_id, name in zip(image_ids, output_names):
        image = images_by_id[image_id]
        annotations = by_image.get(image_id, [])
        unknown = {a.category_id for a in annotations} - contiguous.keys()
        if unknown:
            raise DatasetError(f"{annotation_file}: image {image_id} uses unknown category ids {sorted(unknown)}")
        problem = problems[image_id]
        file_name = file_names[image_id]
        samples.append(
            CocoSample(
                name=name,
                image_id=image_id,
                height=0 if problem else int(image["height"]),
                width=0 if problem else int(image["width"]),
                segmentations=tuple(a.segmentation for a in annotations),
                classes=tuple(contiguous[a.category_id] for a in annotations),
                crowd=tuple(bool(a.iscrowd) for a in annotations),
                image_path=images / file_name if file_name else None,
                annotation_ids=tuple(a.id for a in annotations),
                problem=problem,
            )
        )
    orphans = [{"annotation": a.id, "image_id": a.image_id} for a in data.annotations if a.image_id not in images_by_id]
    return CocoSplit(samples, names, orphans)


def _usable_file_name(image: dict, problem: str | None) -> str | None:
    """The image record's ``file_name`` where it is a usable string, else ``None``."""
    file_name = image.get("file_name")
    return file_name if (problem is None or isinstance(file_name, str)) and file_name else None


def coco_samples(root: Path, split: str) -> list[CocoSample]:
    """One sample per image of ``root/annotations/instances_{split}.json`` (see :func:`read_coco`)."""
    return read_coco(root, split).samples


def coco_file_samples(annotation_file: Path, images: Path) -> list[CocoSample]:
    """One sample per image of a COCO-format file anywhere (see :func:`read_coco_file`)."""
    return read_coco_file(annotation_file, images).samples


def coco_prefix(split: str) -> str:
    """Default scribble folder prefix of a split: ``coco2014_train`` for ``train2014``, else ``coco_{split}``."""
    year = "".join(ch for ch in split if ch.isdigit())
    return f"coco{year}_{split.rstrip('0123456789')}" if year else f"coco_{split}"


def coco_file_split_name(annotation_file: Path) -> str:
    """The split a COCO-format file holds, by its name: ``val2017`` for ``instances_val2017.json``, else its stem."""
    return Path(annotation_file).stem.removeprefix("instances_")


def coco_split(root: Path, split: str) -> DatasetSplit:
    """A split for a build (see :func:`read_coco`); its orphan annotations are warned about and noted.

    Raises
    ------
    DatasetError
        As :func:`read_coco`, and if the image folder ``root/{split}`` is missing.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: COCO root not found")
    return coco_file_split(root / "annotations" / f"instances_{split}.json", root / split, split)


def coco_file_split(annotation_file: Path, images: Path, split: str) -> DatasetSplit:
    """A split for a build from a COCO-format file anywhere; its orphan annotations are warned about and noted.

    The same build as :func:`coco_split`'s where the file and folder are a root's
    ``annotations/instances_{split}.json`` and ``{split}/``.

    Raises
    ------
    DatasetError
        As :func:`read_coco_file`, and if the image folder is missing.
    """
    coco = read_coco_file(annotation_file, images)
    if not Path(images).is_dir():
        raise DatasetError(f"{images}: image folder not found")
    notes = None
    if coco.orphans:
        notes = {"orphan_annotations": {"count": len(coco.orphans), "examples": coco.orphans[:5]}}
        example = coco.orphans[0]
        warnings.warn(
            f"{len(coco.orphans)} annotations name no image of {Path(annotation_file).name} (e.g. annotation "
            f"{example['annotation']}: image {example['image_id']}); recorded in meta.json",
            stacklevel=1,
        )
    return DatasetSplit(coco.samples, coco.class_names, coco_prefix(split), notes)

"""A scribble set as a COCO-format file of strokes, for any loader that reads COCO, and back.

Each stroke is an annotation: its class as ``category_id`` (the build's class ids, 0 for
background), ``segmentation`` the brush's polygon (the polyline buffered by the brush's
radius with shapely, round caps and joins, as the simulator's raster draws it), ``bbox``
and ``area`` of that polygon, and the polyline itself under ``scribble`` as
``[x0, y0, x1, y1, ...]``, with ``style`` and the object it scribbles (``instance``).
Coordinates are COCO's, where pixel (x, y) covers [x, x + 1): the simulator's, whose pixel
centres lie on whole numbers, plus half a pixel. pycocotools reads the file; its fill of the
polygons gives back 95.7-98.3 % of each image's scribble pixels on the embedded sample
(the rest: its fill of shapes 3 px thin). Polygons are the unclipped brush: a simulated
stroke's pixels in the set are those of its polygon on its object.

An import reads such a file with pycocotools. An annotation with a ``scribble`` polyline is
drawn as a stroke with the simulator's raster, at the width the file's
``info.scribblesim`` records (and clipped to the ground truth's class where it records
``clip_to_mask``, as the labelme import does); any other annotation is its segmentation,
filled by pycocotools. Categories map to the build's classes by name.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from pycocotools import mask as mask_utils
from shapely.geometry import LineString, Point

from ..datasets.base import read_json
from ..datasets.coco import segmentation_problem
from ..engine.raster import brush_radius, stroke_pixels
from ..engine.result import UNLABELLED
from ..errors import DatasetError
from ..sets.files import write_bytes_atomic
from ..sets.importers import ImportSummary
from ..sets.layout import Layout, read_meta
from ..sets.scribble_set import open_set
from .importing import ClassLabels, check_image, write_imported

#: The brush of a 1-px stroke as a polygon: half a pixel around the line.
_THINNEST = 0.5
#: From the simulator's pixel coordinates (centres on whole numbers) to COCO's (corners).
_TO_COCO = 0.5
#: Key of the export's own record in the file's ``info``: the brush width and line
#: connectivity, the clip.
RECORD_KEY = "scribblesim"


def brush_polygon(points: np.ndarray, width: int) -> list[list[float]]:
    """The brush's outline around a polyline of (x, y) ``points`` (the simulator's coordinates),
    as COCO polygons (flat x, y lists, COCO's coordinates)."""
    radius = max(brush_radius(width), _THINNEST)
    points = points + _TO_COCO
    geometry = Point(points[0]) if len(points) == 1 else LineString(points)
    outline = geometry.buffer(radius, quad_segs=4)
    polygons = getattr(outline, "geoms", [outline])
    return [np.asarray(p.exterior.coords[:-1], dtype=np.float64).round(2).ravel().tolist() for p in polygons]


def export_coco(out: Path, seed: str, dest: Path) -> int:
    """Write scribble set ``seed`` of ``out`` as one COCO-format file of strokes, ``dest``; returns the strokes."""
    out, dest = Path(out), Path(dest)
    meta = read_meta(out)
    scribbles = open_set(out, seed)
    classes = meta["classes"]
    config = meta.get("config") or {}
    width, connectivity = int(config.get("width", 2)), int(config.get("line_connectivity", 8))
    unlabelled = int(meta.get("ignore_index", UNLABELLED))
    images_dir = Layout(out).images
    image_files = Layout(out).image_files()  # one listing, not one per image
    images: list[dict] = []
    annotations: list[dict] = []
    for image_id, (name, record) in enumerate(sorted(scribbles.records().items()), start=1):
        image = image_files.get(name)
        if image is None:
            raise DatasetError(f"{images_dir}: no image of {name!r} for the file")
        with Image.open(image) as opened:
            image_width, height = opened.size
        images.append({"id": image_id, "file_name": image.name, "width": image_width, "height": height})
        for stroke in record["strokes"]:
            if stroke["label"] == unlabelled:
                continue
            points = np.asarray(stroke["points"], dtype=np.float64).reshape(-1, 2)
            polygons = brush_polygon(points, width)
            xy = np.concatenate([np.reshape(p, (-1, 2)) for p in polygons])
            low, high = xy.min(axis=0), xy.max(axis=0)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": image_id,
                    "category_id": stroke["label"],
                    "segmentation": polygons,
                    "bbox": [*low.round(2).tolist(), *(high - low).round(2).tolist()],
                    "area": round(sum(_area(p) for p in polygons), 2),
                    "iscrowd": 0,
                    "scribble": (points + _TO_COCO).round(2).ravel().tolist(),
                    "style": stroke["style"],
                    "instance": stroke["instance"],
                }
            )
    categories = [{"id": k, "name": name, "supercategory": "scribble"} for k, name in enumerate(classes)]
    brush = {"width": width, "line_connectivity": connectivity, "clip_to_mask": bool(config.get("clip_to_mask", True))}
    info = {"description": f"{scribbles.folder.name}: strokes", RECORD_KEY: brush}
    data = {"info": info, "images": images}
    data.update(annotations=annotations, categories=categories)
    write_bytes_atomic(dest, json.dumps(data).encode())
    return len(annotations)


def _area(polygon: list[float]) -> float:
    x, y = np.reshape(polygon, (-1, 2)).T
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)


def import_coco(
    annotation_file: Path,
    out: Path,
    *,
    seed: int = 0,
    skip_unknown: bool = False,
    overwrite: bool = False,
    label_png: str | None = None,
) -> ImportSummary:
    """Import a COCO-format file of scribbles as scribble set ``seed`` of the build ``out``.

    An image the build lacks or sizes otherwise, or one with a category that names no
    class (unless ``skip_unknown``), a malformed segmentation or a one-point scribble, is
    refused on a line of its own, and the other images are imported.

    Raises
    ------
    DatasetError
        A missing or malformed file, no build at ``out``, an existing target set, or (after
        the others are written) any refused image.
    """
    annotation_file, out = Path(annotation_file), Path(out)
    data = read_json(annotation_file, "COCO file not found")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), list) for k in ("images", "annotations")):
        raise DatasetError(f"{annotation_file}: expected a COCO object with 'images' and 'annotations' lists")
    labels = ClassLabels(out, skip_unknown)
    record = (data.get("info") or {}).get(RECORD_KEY) if isinstance(data.get("info"), dict) else None
    record = record if isinstance(record, dict) else {}
    brush = int(record.get("width", 2)), int(record.get("line_connectivity", 8))
    clip = record.get("clip_to_mask") is True
    names = {c.get("id"): c.get("name") for c in data.get("categories") or [] if isinstance(c, dict)}
    by_image: dict = {}
    for annotation in data["annotations"]:
        by_image.setdefault(annotation.get("image_id") if isinstance(annotation, dict) else None, []).append(annotation)
    maps: dict[str, np.ndarray] = {}
    refused: list[str] = []
    for image in data["images"]:
        try:
            name, label_map = _image_map(image, by_image, names, labels, brush, clip, out, str(annotation_file))
            if name in maps:
                raise DatasetError(f"{annotation_file}: two images are named {name!r}")
            maps[name] = label_map
        except DatasetError as error:
            refused.append(str(error))
    return write_imported(out, seed, maps, refused, source="coco", overwrite=overwrite, label_png=label_png)


def _image_map(
    image, by_image: dict, names: dict, labels: ClassLabels, brush: tuple[int, int], clip: bool, out: Path, path: str
) -> tuple[str, np.ndarray]:
    """An image's name and its label map, its annotations drawn in file order."""
    if not isinstance(image, dict) or not isinstance(image.get("file_name"), str):
        raise DatasetError(f"{path}: an image record without a file_name")
    name = Path(image["file_name"]).stem
    try:
        shape = (int(image["height"]), int(image["width"]))
    except (KeyError, TypeError, ValueError):
        raise DatasetError(f"{path}: image {name!r} has no integer width and height") from None
    truth = check_image(out, name, shape, path)
    where = f"{path}: image {name!r}"
    label_map = np.full(shape, labels.unlabelled, dtype=labels.dtype)
    for annotation in by_image.get(image.get("id"), []):
        class_id = labels.class_id(str(names.get(annotation.get("category_id"), annotation.get("category_id"))), where)
        if class_id is None:
            continue
        scribble = annotation.get("scribble")
        if scribble is not None:
            try:
                points = np.asarray(scribble, dtype=np.float64).reshape(-1, 2) - _TO_COCO
            except (TypeError, ValueError):
                raise DatasetError(f"{where}: annotation {annotation.get('id')}: scribble is no x, y list") from None
            if len(points) < 2:
                raise DatasetError(f"{where}: a scribble of one point (annotation {annotation.get('id')})")
            rows, cols = stroke_pixels(points, shape, *brush)
            drawn = np.zeros(shape, dtype=bool)
            drawn[rows, cols] = True
            if clip:
                drawn &= truth == class_id
        else:
            problem = segmentation_problem(annotation.get("segmentation"), *shape)
            if problem is not None:
                raise DatasetError(f"{where}: annotation {annotation.get('id')}: {problem}")
            drawn = _fill(annotation["segmentation"], shape)
        label_map[drawn] = class_id
    return name, label_map


def _fill(segmentation, shape: tuple[int, int]) -> np.ndarray:
    """A COCO segmentation (polygons or RLE) filled by pycocotools."""
    height, width = shape
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    return mask_utils.decode(rle).astype(bool)

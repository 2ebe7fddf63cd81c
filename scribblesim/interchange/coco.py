"""A scribble set as a COCO-format file of strokes, for any loader that reads COCO.

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
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from PIL import Image
from shapely.geometry import LineString, Point

from ..engine.raster import brush_radius
from ..engine.result import UNLABELLED
from ..errors import DatasetError
from ..sets.files import write_bytes_atomic
from ..sets.layout import Layout, read_meta
from ..sets.scribble_set import open_set

#: The brush of a 1-px stroke as a polygon: half a pixel around the line.
_THINNEST = 0.5
#: From the simulator's pixel coordinates (centres on whole numbers) to COCO's (corners).
_TO_COCO = 0.5


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
    width = int((meta.get("config") or {}).get("width", 2))
    images_dir = Layout(out).images
    images: list[dict] = []
    annotations: list[dict] = []
    for image_id, (name, record) in enumerate(sorted(scribbles.records().items()), start=1):
        image = next(iter(sorted(images_dir.glob(f"{name}.*"))), None)
        if image is None:
            raise DatasetError(f"{images_dir}: no image of {name!r} for the file")
        with Image.open(image) as opened:
            image_width, height = opened.size
        images.append({"id": image_id, "file_name": image.name, "width": image_width, "height": height})
        for stroke in record["strokes"]:
            if stroke["label"] == UNLABELLED:
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
    data = {"info": {"description": f"{scribbles.folder.name}: strokes"}, "images": images}
    data.update(annotations=annotations, categories=categories)
    write_bytes_atomic(dest, json.dumps(data).encode())
    return len(annotations)


def _area(polygon: list[float]) -> float:
    x, y = np.reshape(polygon, (-1, 2)).T
    return float(abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1))) / 2)

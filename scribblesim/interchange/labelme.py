"""labelme's JSON files, one per image: human scribbles in, simulated scribbles out.

The files are read and written with labelme's own :class:`labelme.LabelFile`. A stroke is a
``linestrip`` shape (``line`` and ``point`` shapes are read as strokes too) whose label is
a class name of the build. Shapes are drawn with scribblesim's stroke raster (OpenCV's
thick polyline, ``width`` its thickness), the one the simulator draws with, so that an
exported set comes back pixel for pixel. labelme's own ``shape_to_mask`` draws with PIL:
its lines of a like width share only about 80 % of their pixels with the simulator's
(docs/datasets.md), so it is not used.

The simulator clips each stroke to its object, which a polyline cannot carry: an export
records ``"clip_to_mask"`` under ``"scribblesim"``, and the import of such a file keeps
each stroke's pixels where the build's ground truth holds the stroke's class. Files from
elsewhere are drawn as they are, spill-over and all.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from ..engine.result import UNLABELLED
from ..errors import ConfigError, DatasetError
from ..sets.importers import ImportSummary, draw_polylines
from ..sets.layout import Layout, read_meta
from ..sets.scribble_set import open_set
from .importing import ClassLabels, check_image, write_imported

#: The shape types read as strokes (polygons, rectangles and the like are areas, not scribbles).
STROKE_SHAPES = ("linestrip", "line", "point")
#: Key of the export's own record in a file's top level: the set, the brush width, the clip.
RECORD_KEY = "scribblesim"


def _label_file():
    try:
        from labelme import LabelFile
        from loguru import logger
    except ImportError:
        raise ConfigError("labelme files need labelme: pip install 'scribblesim[interchange]'") from None
    logger.disable("labelme")  # a debug line per image read otherwise
    return LabelFile


def _read(path: Path):
    """A labelme file, as labelme reads it (its image must be where ``imagePath`` says, or embedded)."""
    try:
        return _label_file()(str(path))
    except Exception as error:  # labelme wraps every reading failure in its own exception class
        if type(error).__module__.split(".")[0] != "labelme":
            raise
        raise DatasetError(f"{path}: {error.__cause__ or error}") from None


def _image_size(label_file, path: Path) -> tuple[int, int]:
    try:
        with Image.open(io.BytesIO(label_file.image_data)) as image:
            width, height = image.size
    except OSError as error:
        raise DatasetError(f"{path}: its image is unreadable ({error})") from None
    return height, width


def import_labelme(
    json_dir: Path,
    out: Path,
    *,
    seed: int = 0,
    width: int = 2,
    skip_unknown: bool = False,
    overwrite: bool = False,
    label_png: str | None = None,
) -> ImportSummary:
    """Import a folder of labelme files as scribble set ``seed`` of the build ``out``.

    Each file's name (its stem) is an image of ``out``; each stroke shape's label names
    one of the build's classes (case and spaces aside). Shapes are drawn in file order,
    later ones over earlier ones. A file that cannot be read, or holds a label that names
    no class (unless ``skip_unknown``), a shape that is no stroke or a one-point line, is
    refused on a line of its own, and the others are imported.

    Raises
    ------
    DatasetError
        A missing folder, no file, no build at ``out``, an existing target set, or (after
        the others are written) any refused file.
    """
    json_dir, out = Path(json_dir), Path(out)
    if not json_dir.is_dir():
        raise DatasetError(f"{json_dir}: labelme folder not found")
    files = sorted(p for p in json_dir.glob("*.json") if not p.name.startswith("."))
    if not files:
        raise DatasetError(f"{json_dir}: no *.json files")
    labels = ClassLabels(out, skip_unknown)
    maps, strokes, refused = {}, {}, []
    for path in files:
        try:
            shape, polylines, clip = _polylines(path, labels)
            truth = check_image(out, path.stem, shape, str(path))
        except DatasetError as error:
            refused.append(str(error))
            continue
        label_map, strokes[path.stem] = draw_polylines(polylines, shape, width, labels.dtype)
        if clip:
            label_map[(label_map != labels.unlabelled) & (label_map != truth)] = labels.unlabelled
        maps[path.stem] = label_map
    return write_imported(
        out, seed, maps, refused, source="labelme", overwrite=overwrite, label_png=label_png, strokes=strokes
    )


def _polylines(path: Path, labels: ClassLabels) -> tuple[tuple[int, int], list[tuple[int, np.ndarray]], bool]:
    """A file's image size, its stroke shapes as (class id, (M, 2) points (x, y)), and whether
    its strokes are clipped to their class (an export's record says so)."""
    label_file = _read(path)
    record = label_file.other_data.get(RECORD_KEY)
    clip = isinstance(record, dict) and record.get("clip_to_mask") is True
    polylines = []
    for shape in label_file.shapes:
        kind = shape["shape_type"]
        if kind not in STROKE_SHAPES:
            raise DatasetError(f"{path}: a {kind!r} shape is no scribble ({', '.join(STROKE_SHAPES)} are)")
        points = np.asarray(shape["points"], dtype=np.float64).reshape(-1, 2)
        if kind != "point" and len(points) < 2:
            raise DatasetError(f"{path}: a {kind} of one point (label {shape['label']!r})")
        label = labels.class_id(shape["label"], str(path))
        if label is not None:
            polylines.append((label, points))
    return _image_size(label_file, path), polylines, clip


def export_labelme(out: Path, seed: str, dest: Path) -> int:
    """Write scribble set ``seed`` of ``out`` as one labelme file per image into ``dest``.

    Each stroke becomes a ``linestrip`` shape labelled with its class name, its style in
    the description and its object in ``group_id``; the file records the set and the
    brush width and whether strokes were clipped to their objects under ``"scribblesim"``, and points at the build's image (``JPEGImages``)
    by a path relative to ``dest``. Files are written atomically; returns how many.
    """
    out, dest = Path(out), Path(dest)
    meta = read_meta(out)
    scribbles = open_set(out, seed)
    classes: Sequence[str] = meta["classes"]
    images = Layout(out).images
    image_files = Layout(out).image_files()  # one listing, not one per image
    config = meta.get("config") or {}
    provenance = {
        "set": scribbles.folder.name,
        "width": int(config.get("width", 2)),
        "clip_to_mask": bool(config.get("clip_to_mask", True)),
    }
    dest.mkdir(parents=True, exist_ok=True)
    label_file = _label_file()
    written = 0
    for name, record in sorted(scribbles.records().items()):
        image = image_files.get(name)
        if image is None:
            raise DatasetError(f"{images}: no image of {name!r} to point the labelme file at")
        with Image.open(image) as opened:
            image_width, image_height = opened.size
        shapes = [
            {
                "label": classes[stroke["label"]],
                "points": [[float(x), float(y)] for x, y in stroke["points"]],
                "shape_type": "linestrip",
                "group_id": stroke["instance"],
                "description": stroke["style"],
                "flags": {},
                "mask": None,
            }
            for stroke in record["strokes"]
            if stroke["label"] != meta.get("ignore_index", UNLABELLED)
        ]
        target = dest / f"{name}.json"
        partial = dest / f".{name}.json.partial"
        label_file().save(
            str(partial),
            shapes,
            os.path.relpath(os.path.realpath(image), os.path.realpath(dest)),
            image_height,
            image_width,
            other_data={RECORD_KEY: provenance},
        )
        os.replace(partial, target)
        written += 1
    return written

"""Label Studio's JSON: human scribbles in from an export, simulated scribbles out as pre-annotations.

Brush regions are read and written with label-studio-converter's RLE (``brush.decode_rle``,
``brush.mask2rle``), so a scribble's pixels travel exactly. An import takes each task's
first annotation that was not cancelled: ``brushlabels`` regions as they were painted,
``keypointlabels`` as dots and ``polygonlabels`` as scribbles along their outline (closed),
both drawn ``width`` thick with the simulator's raster; labels name the build's classes.
An export writes one task per image with the set as a prediction: one brush region per
stroke (its pixels in the set), and ``label_config.xml`` for the project.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse
from xml.sax.saxutils import quoteattr

import numpy as np

from ..engine.raster import stroke_pixels
from ..errors import ConfigError, DatasetError
from ..sets.files import write_bytes_atomic
from ..sets.importers import ImportSummary
from ..sets.layout import Layout, read_meta
from ..sets.scribble_set import open_set
from .importing import ClassLabels, check_image, write_imported
from .regions import stroke_regions

#: The names the export's labelling config gives its image and brush tags.
IMAGE_TAG, BRUSH_TAG = "image", "scribble"


def _brush():
    try:
        from label_studio_converter import brush
    except ImportError:
        raise ConfigError(
            "Label Studio files need label-studio-converter: pip install 'scribblesim[interchange]'"
        ) from None
    return brush


def task_image_name(task: dict, path: Path) -> str:
    """The image a task annotates, as a build names it: the stem of ``data.image`` (a path,
    a URL, or Label Studio's ``/data/local-files/?d=...``)."""
    data = task.get("data")
    image = data.get("image") if isinstance(data, dict) else None
    if not isinstance(image, str) or not image:
        raise DatasetError(f"{path}: a task without data.image (task {task.get('id')})")
    url = urlparse(image)
    local = parse_qs(url.query).get("d")
    return Path(unquote(local[0] if local else url.path)).stem


#: The result types that are regions of pixels (choices, text and the like are not).
REGION_TYPES = ("brushlabels", "keypointlabels", "polygonlabels")


def _result_pixels(item: dict, shape: tuple[int, int], width: int, path: str) -> tuple[str, np.ndarray]:
    """A region's label and its pixels as a (H, W) bool mask."""
    value = item.get("value") or {}
    kind = item.get("type")
    height, image_width = shape
    if kind == "brushlabels":
        labels, rle = value.get("brushlabels"), value.get("rle")
        if not labels or not isinstance(rle, list):
            raise DatasetError(f"{path}: a brush region without brushlabels or rle")
        flat = _brush().decode_rle(rle)
        if flat.size != height * image_width * 4:
            raise DatasetError(f"{path}: a brush region of {flat.size // 4} pixels on a {image_width}x{height} image")
        return labels[0], flat.reshape(height, image_width, 4)[:, :, 3] > 0
    if kind in ("keypointlabels", "polygonlabels"):
        key = "keypointlabels" if kind == "keypointlabels" else "polygonlabels"
        labels = value.get(key)
        if not labels:
            raise DatasetError(f"{path}: a {kind} region without {key}")
        scale = np.array([image_width, height], dtype=np.float64) / 100.0  # Label Studio gives percent
        if kind == "keypointlabels":
            points = np.array([[value["x"], value["y"]]], dtype=np.float64) * scale
        else:
            points = np.asarray(value.get("points"), dtype=np.float64).reshape(-1, 2) * scale
            if len(points) < 2:
                raise DatasetError(f"{path}: a polygon of {len(points)} point(s)")
            points = np.vstack([points, points[:1]])  # the outline, closed
        mask = np.zeros(shape, dtype=bool)
        rows, cols = stroke_pixels(points, shape, width)
        mask[rows, cols] = True
        return labels[0], mask
    raise AssertionError(kind)  # REGION_TYPES are the kinds above


def import_labelstudio(
    export_file: Path,
    out: Path,
    *,
    seed: int = 0,
    width: int = 2,
    skip_unknown: bool = False,
    overwrite: bool = False,
    label_png: str | None = None,
) -> ImportSummary:
    """Import a Label Studio JSON export as scribble set ``seed`` of the build ``out``.

    A task whose image the build lacks or sizes otherwise, or that holds a label naming no
    class (unless ``skip_unknown``) or a malformed region, is refused on a line of its
    own, and the other tasks are imported.

    Raises
    ------
    DatasetError
        A missing or malformed file, no build at ``out``, an existing target set, or (after
        the others are written) any refused task.
    """
    export_file, out = Path(export_file), Path(out)
    try:
        tasks = json.loads(export_file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DatasetError(f"{export_file}: Label Studio export not found") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{export_file}: not valid JSON ({error})") from None
    if not isinstance(tasks, list):
        raise DatasetError(f"{export_file}: expected a list of tasks (Label Studio's JSON export)")
    labels = ClassLabels(out, skip_unknown)
    maps: dict[str, np.ndarray] = {}
    refused: list[str] = []
    for task in tasks:
        try:
            name = task_image_name(task, export_file)
            if name in maps:
                raise DatasetError(f"{export_file}: two tasks annotate image {name!r}")
            results = _first_annotation(task)
            if results is not None:
                maps[name] = _draw(results, out, name, labels, width, str(export_file))
        except DatasetError as error:
            refused.append(str(error))
    return write_imported(out, seed, maps, refused, source="labelstudio", overwrite=overwrite, label_png=label_png)


def _first_annotation(task: dict) -> list | None:
    for annotation in task.get("annotations") or []:
        if isinstance(annotation, dict) and not annotation.get("was_cancelled"):
            return annotation.get("result") or []
    return None


def _draw(results: list, out: Path, name: str, labels: ClassLabels, width: int, path: str) -> np.ndarray:
    """An image's label map from its results in order (later ones over earlier ones)."""
    regions = [item for item in results if item.get("type") in REGION_TYPES]
    sizes = {(item.get("original_height"), item.get("original_width")) for item in regions} - {(None, None)}
    if len(sizes) > 1:
        raise DatasetError(f"{path}: image {name!r}: its regions give {len(sizes)} image sizes")
    shape = check_image(out, name, next(iter(sizes), None), path).shape
    where = f"{path}: image {name!r}"
    label_map = np.full(shape, labels.unlabelled, dtype=labels.dtype)
    for item in regions:
        label, pixels = _result_pixels(item, shape, width, where)
        class_id = labels.class_id(label, where)
        if class_id is not None:
            label_map[pixels] = class_id
    return label_map


def export_labelstudio(out: Path, seed: str, dest: Path, image_root: str | None = None) -> int:
    """Write scribble set ``seed`` of ``out`` as Label Studio tasks with pre-annotations, into ``dest``.

    ``dest/tasks.json`` holds one task per image, its ``data.image`` the build's image path
    (or ``image_root`` joined with the file name, for the URL Label Studio serves it by);
    each stroke is one brush region of its pixels in the set. ``dest/label_config.xml`` is
    the labelling config with the build's classes. Returns the number of tasks.
    """
    out, dest = Path(out), Path(dest)
    meta = read_meta(out)
    scribbles = open_set(out, seed)
    classes = meta["classes"]
    images = Layout(out).images
    image_files = Layout(out).image_files()  # one listing, not one per image
    width = int((meta.get("config") or {}).get("width", 2))
    brush = _brush()
    tasks = []
    for name, record in sorted(scribbles.records().items()):
        image = image_files.get(name)
        if image is None:
            raise DatasetError(f"{images}: no image of {name!r} for its task")
        label_map = scribbles.label_map(name)
        height, image_width = label_map.shape
        regions = []
        for mask, label in stroke_regions(record["strokes"], label_map, width):
            regions.append(
                {
                    "from_name": BRUSH_TAG,
                    "to_name": IMAGE_TAG,
                    "type": "brushlabels",
                    "original_width": image_width,
                    "original_height": height,
                    "image_rotation": 0,
                    "value": {
                        "format": "rle",
                        "rle": brush.mask2rle(mask.astype(np.uint8) * 255),
                        "brushlabels": [classes[label]],
                    },
                }
            )
        source = f"{image_root.rstrip('/')}/{image.name}" if image_root else os.path.realpath(image)
        tasks.append(
            {"data": {"image": source}, "predictions": [{"model_version": scribbles.folder.name, "result": regions}]}
        )
    dest.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(dest / "tasks.json", json.dumps(tasks).encode())
    write_bytes_atomic(dest / "label_config.xml", label_config(classes).encode())
    return len(tasks)


def label_config(classes: list[str]) -> str:
    """A Label Studio labelling config: the image and one brush label per class."""
    labels = "".join(f"\n    <Label value={quoteattr(name)}/>" for name in classes)
    return (
        f'<View>\n  <Image name="{IMAGE_TAG}" value="$image" zoom="true"/>\n'
        f'  <BrushLabels name="{BRUSH_TAG}" toName="{IMAGE_TAG}">{labels}\n  </BrushLabels>\n</View>\n'
    )

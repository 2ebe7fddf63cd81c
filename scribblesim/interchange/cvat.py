"""CVAT for images 1.1 XML: human scribbles in, simulated scribbles out.

A file holds every image of a task (``<image name=... width=... height=...>``). Read as
scribbles: ``<polyline>`` shapes (strokes), ``<points>`` (dots) and ``<mask>`` (brush
pixels, decoded with cvat-sdk's ``masks.decode_mask``); ``<polygon>`` shapes are drawn along
their closed outline. Lines and dots are ``width`` thick with the simulator's raster; shapes
are drawn by ``z_order``, then in file order. Boxes, ellipses, cuboids and skeletons are
no scribbles and are refused. The XML is parsed with the standard library (datumaro,
CVAT's own format library, pins OpenCV below 5: see docs/datasets.md).

An export writes each stroke as a ``<mask>`` of its pixels in the set (cvat-sdk's
``masks.encode_mask``), so that the set comes back exactly; CVAT edits masks with its
brush.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path, PurePosixPath
from xml.sax.saxutils import escape, quoteattr

import numpy as np

from ..engine.raster import stroke_pixels
from ..engine.result import UNLABELLED
from ..engine.vectorise import vectorise
from ..errors import ConfigError, DatasetError
from ..sets.files import write_bytes_atomic
from ..sets.importers import ImportSummary, class_tags, tag_key
from ..sets.layout import Layout, read_meta, stroke_record
from ..sets.scribble_set import check_target, label_png_mode, open_set, read_label_map, write_set
from .regions import stroke_regions

#: The shapes read as scribbles; the others CVAT draws are areas or boxes.
SCRIBBLE_SHAPES = ("polyline", "points", "mask", "polygon")
NO_SCRIBBLE_SHAPES = ("box", "ellipse", "cuboid", "skeleton", "tag")


def _masks():
    try:
        from cvat_sdk import masks
    except ImportError:
        raise ConfigError("CVAT files need cvat-sdk: pip install 'scribblesim[interchange]'") from None
    return masks


def _points(text: str | None, path: Path) -> np.ndarray:
    try:
        return np.array([[float(v) for v in pair.split(",")] for pair in (text or "").split(";")], dtype=np.float64)
    except ValueError:
        raise DatasetError(f"{path}: points {text!r} are not x,y;x,y pairs") from None


def _shape_pixels(element, shape: tuple[int, int], width: int, path: Path) -> np.ndarray:
    """A scribble shape's pixels as a (H, W) bool mask."""
    height, image_width = shape
    if element.tag == "mask":
        try:
            runs = [int(v) for v in element.get("rle", "").split(",")]
            left, top = int(element.get("left")), int(element.get("top"))
            right, bottom = left + int(element.get("width")) - 1, top + int(element.get("height")) - 1
            return _masks().decode_mask([*runs, left, top, right, bottom], image_width=image_width, image_height=height)
        except (TypeError, ValueError) as error:
            raise DatasetError(f"{path}: a mask of label {element.get('label')!r} is malformed ({error})") from None
    points = _points(element.get("points"), path)
    if element.tag == "polygon":
        points = np.vstack([points, points[:1]])
    mask = np.zeros(shape, dtype=bool)
    rows, cols = stroke_pixels(points, shape, width)
    mask[rows, cols] = True
    return mask


def import_cvat(
    xml_file: Path,
    out: Path,
    *,
    seed: int = 0,
    width: int = 2,
    skip_unknown: bool = False,
    overwrite: bool = False,
    label_png: str | None = None,
) -> ImportSummary:
    """Import a CVAT for images 1.1 XML file as scribble set ``seed`` of the build ``out``.

    Raises
    ------
    DatasetError
        A missing or malformed file, an image the build lacks or of another size, a shape
        that is no scribble, a label that names no class (unless ``skip_unknown``), or an
        existing target set.
    """
    xml_file, out = Path(xml_file), Path(out)
    try:
        root = ElementTree.parse(xml_file).getroot()
    except FileNotFoundError:
        raise DatasetError(f"{xml_file}: CVAT XML file not found") from None
    except ElementTree.ParseError as error:
        raise DatasetError(f"{xml_file}: not valid XML ({error})") from None
    if root.tag != "annotations":
        raise DatasetError(f"{xml_file}: expected CVAT for images XML (<annotations>), got <{root.tag}>")
    if not Layout(out).meta.is_file():
        raise DatasetError(f"{out}: no meta.json; import into a build, whose class names the labels name")
    meta = read_meta(out)
    tags = class_tags(meta["classes"])
    maps = {}
    for image in root.iter("image"):
        name = PurePosixPath(image.get("name", "")).stem
        if not name:
            raise DatasetError(f"{xml_file}: an <image> without a name")
        if name in maps:
            raise DatasetError(f"{xml_file}: two <image> elements name {name!r}")
        maps[name] = _draw(image, name, out, tags, width, skip_unknown, xml_file)
    if not maps:
        raise DatasetError(f"{xml_file}: no <image> elements")
    check_target(out, meta["prefix"], str(seed), overwrite)
    mode = label_png_mode(out, label_png)
    strokes = 0

    def items():
        nonlocal strokes
        for name, label_map in maps.items():
            found = vectorise(label_map)  # masks carry no polyline: strokes from the pixels, for every shape alike
            strokes += len(found)
            yield name, label_map, stroke_record(name, found, source="cvat")

    written = write_set(out, meta["prefix"], str(seed), items(), label_png=mode)
    return ImportSummary(written, len(maps), strokes)


def _draw(image, name: str, out: Path, tags: dict[str, int], width: int, skip_unknown: bool, path: Path) -> np.ndarray:
    truth = Layout(out).ground_truth(name)
    if not truth.is_file():
        raise DatasetError(f"{path}: image {name!r} is not in {out}")
    try:
        shape = (int(image.get("height")), int(image.get("width")))
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: image {name!r} has no integer width and height") from None
    if read_label_map(truth).shape != shape:
        raise DatasetError(f"{path}: image {name!r} is {shape[1]}x{shape[0]}, the build's is not")
    label_map = np.full(shape, UNLABELLED, dtype=np.uint8)
    shapes = [e for e in image if e.tag in SCRIBBLE_SHAPES]
    refused = [e.tag for e in image if e.tag in NO_SCRIBBLE_SHAPES]
    if refused:
        raise DatasetError(f"{path}: image {name!r} has a <{refused[0]}>, which is no scribble")
    for element in sorted(shapes, key=lambda e: int(e.get("z_order", 0))):  # stable: file order within a layer
        label = tags.get(tag_key(element.get("label", "")))
        if label is None:
            if skip_unknown:
                continue
            raise DatasetError(
                f"{path}: label {element.get('label')!r} names no class of the build (or --skip-unknown)"
            )
        label_map[_shape_pixels(element, shape, width, path)] = label
    return label_map


def export_cvat(out: Path, seed: str, dest: Path) -> int:
    """Write scribble set ``seed`` of ``out`` as one CVAT for images 1.1 XML file, ``dest``.

    Each stroke is a ``<mask>`` of its pixels in the set; the labels are the build's
    classes. Import it into a CVAT task made from the build's images. Returns the images written.
    """
    out, dest = Path(out), Path(dest)
    meta = read_meta(out)
    scribbles = open_set(out, seed)
    classes = meta["classes"]
    width = int((meta.get("config") or {}).get("width", 2))
    images = Layout(out).images
    masks = _masks()
    lines = [
        '<?xml version="1.0" encoding="utf-8"?>',
        "<annotations>",
        "  <version>1.1</version>",
        "  <meta><task><labels>",
    ]
    lines += [f"    <label><name>{escape(name)}</name><type>any</type><attributes/></label>" for name in classes]
    lines.append("  </labels></task></meta>")
    records = sorted(scribbles.records().items())
    for index, (name, record) in enumerate(records):
        image = next(iter(sorted(images.glob(f"{name}.*"))), None)
        label_map = scribbles.label_map(name)
        height, image_width = label_map.shape
        file_name = image.name if image is not None else f"{name}.jpg"
        lines.append(f'  <image id="{index}" name={quoteattr(file_name)} width="{image_width}" height="{height}">')
        for mask, label in stroke_regions(record["strokes"], label_map, width):
            *runs, left, top, right, bottom = masks.encode_mask(mask)
            lines.append(
                f'    <mask label={quoteattr(classes[label])} source="auto" occluded="0" '
                f'rle="{", ".join(map(str, runs))}" left="{left}" top="{top}" '
                f'width="{right - left + 1}" height="{bottom - top + 1}" z_order="0"></mask>'
            )
        lines.append("  </image>")
    lines.append("</annotations>\n")
    write_bytes_atomic(dest, "\n".join(lines).encode())
    return len(records)

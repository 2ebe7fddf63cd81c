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
from ..errors import ConfigError, DatasetError
from ..sets.files import write_bytes_atomic
from ..sets.importers import ImportSummary
from ..sets.layout import Layout, read_meta
from ..sets.scribble_set import open_set
from .importing import ClassLabels, check_image, write_imported
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


def _points(text: str | None, path: str) -> np.ndarray:
    try:
        return np.array([[float(v) for v in pair.split(",")] for pair in (text or "").split(";")], dtype=np.float64)
    except ValueError:
        raise DatasetError(f"{path}: points {text!r} are not x,y;x,y pairs") from None


def _shape_pixels(element, shape: tuple[int, int], width: int, path: str) -> np.ndarray:
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
    if element.tag != "points" and len(points) < 2:
        raise DatasetError(f"{path}: a <{element.tag}> of one point (label {element.get('label')!r})")
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

    An image the build lacks or sizes otherwise, or one with a shape that is no scribble,
    a one-point line, a malformed mask or a label that names no class (unless
    ``skip_unknown``), is refused on a line of its own, and the other images are imported.

    Raises
    ------
    DatasetError
        A missing or malformed file, no build at ``out``, an existing target set, or (after
        the others are written) any refused image.
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
    labels = ClassLabels(out, skip_unknown)
    maps: dict[str, np.ndarray] = {}
    refused: list[str] = []
    for image in root.iter("image"):
        name = PurePosixPath(image.get("name", "")).stem
        try:
            if not name:
                raise DatasetError(f"{xml_file}: an <image> without a name")
            if name in maps:
                raise DatasetError(f"{xml_file}: two <image> elements name {name!r}")
            maps[name] = _draw(image, name, out, labels, width, xml_file)
        except DatasetError as error:
            refused.append(str(error))
    if not maps and not refused:
        raise DatasetError(f"{xml_file}: no <image> elements")
    return write_imported(out, seed, maps, refused, source="cvat", overwrite=overwrite, label_png=label_png)


def _draw(image, name: str, out: Path, labels: ClassLabels, width: int, path: Path) -> np.ndarray:
    try:
        shape = (int(image.get("height")), int(image.get("width")))
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: image {name!r} has no integer width and height") from None
    check_image(out, name, shape, str(path))
    where = f"{path}: image {name!r}"
    refused = [e.tag for e in image if e.tag in NO_SCRIBBLE_SHAPES]
    if refused:
        raise DatasetError(f"{where} has a <{refused[0]}>, which is no scribble")
    label_map = np.full(shape, labels.unlabelled, dtype=labels.dtype)
    shapes = [e for e in image if e.tag in SCRIBBLE_SHAPES]
    for element in sorted(shapes, key=lambda e: int(e.get("z_order", 0))):  # stable: file order within a layer
        label = labels.class_id(element.get("label", ""), where)
        if label is not None:
            label_map[_shape_pixels(element, shape, width, where)] = label
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
    image_files = Layout(out).image_files()  # one listing, not one per image
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
        image = image_files.get(name)
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

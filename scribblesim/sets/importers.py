"""Scribble sets in the build layout, and human scribbles brought into it.

A *scribble set* is one annotator's scribbles over a build output ``OUT``::

    OUT/{prefix}_scribble_r{tag}/{id}.png   255 = unlabelled, 0 = background, k = class k
    OUT/strokes_r{tag}.jsonl                one JSON object per image: strokes and skips

``prefix`` comes from ``OUT/meta.json``. ``tag`` is a seed (``"1"``), a degraded set
(``"1_shrink0.5"``, see :mod:`scribblesim.sets.degrade`) or an imported annotator (``"0"``).

Importers write human scribbles as such a set:

- **ScribbleSup** (``pascal_2012`` XML files): every ``<polygon>`` is a polyline of
  ``<point><X>..</X><Y>..</Y></point>`` (0-based pixel coordinates) with a ``<tag>``, a
  VOC class name or ``background``. Polylines are drawn 3 px wide, in file order (a later
  polyline wins where two overlap), and kept as strokes of style ``"human"`` with
  ``instance`` ``None`` (ScribbleSup does not say which object a scribble belongs to).
- **PNG**: any folder of scribble label PNGs (255 = unlabelled): grayscale, palette, or 3
  equal channels (what ``cv2.imwrite`` writes, e.g. the published ScribbleCOCO). Their
  strokes are recovered from the pixels: the skeleton of every connected piece of every
  label, cut into chains between end points and junctions.

If ``OUT/meta.json`` does not exist, an importer writes a minimal one (format, dataset,
prefix, classes, palette), so that the new folder is a valid scribble-set container; an
existing ``meta.json`` (e.g. a ``scribblesim build voc`` output) is left untouched and
its prefix is used.
"""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets.voc import CLASS_NAMES as VOC_CLASS_NAMES
from ..engine.raster import stroke_pixels
from ..engine.result import Stroke, unlabelled_value
from ..engine.vectorise import HUMAN_STYLE, vectorise
from ..errors import DatasetError, LayoutError
from .layout import Layout, read_meta, stroke_record
from .scribble_set import ScribbleSet, check_target, ensure_meta, label_png_mode, read_label_map, write_set

#: Brush width of imported ScribbleSup polylines: about 3 px across, the usual convention for its PNGs.
SCRIBBLESUP_WIDTH = 2
_TAG_ALIASES = {
    "plane": "aeroplane",
    "airplane": "aeroplane",
    "bike": "bicycle",
    "motorcycle": "motorbike",
    "table": "diningtable",
    "plant": "pottedplant",
    "monitor": "tvmonitor",
    "tv": "tvmonitor",
    "couch": "sofa",
}
#: Largest image an import draws into (PIL's decompression-bomb limit): a ``<size>`` of
#: 100000 x 100000 would otherwise allocate 10 GB.
MAX_IMAGE_PIXELS = 89_478_485


# ---------------------------------------------------------------------------------------
# ScribbleSup XML
# ---------------------------------------------------------------------------------------


def tag_key(tag: str) -> str:
    """A class name or tag as labels are matched: lower case, no spaces, ``_`` or ``-``, VOC spellings."""
    key = "".join(tag.lower().split()).replace("_", "").replace("-", "")
    return _TAG_ALIASES.get(key, key)


def class_tags(class_names: Sequence[str]) -> dict[str, int]:
    """Normalised class name (lower case, no spaces, VOC spellings) -> class id."""
    return {tag_key(name): k for k, name in enumerate(class_names)}


#: ScribbleSup tag (normalised: lower case, no spaces) -> VOC class id; background = 0.
VOC_TAGS: dict[str, int] = class_tags(VOC_CLASS_NAMES)


@dataclass(frozen=True)
class XmlScribbles:
    """One ScribbleSup XML file: image id and size, and its labelled polylines."""

    name: str
    height: int
    width: int
    polylines: tuple[tuple[int, np.ndarray], ...]  # (class id, (M, 2) float (x, y))


def _int_text(element, path: Path, what: str) -> int:
    if element is None or element.text is None:
        raise DatasetError(f"{path}: missing <{what}>")
    try:
        return int(round(float(element.text.strip())))
    except ValueError:
        raise DatasetError(f"{path}: <{what}> is not a number ({element.text.strip()!r})") from None


def parse_scribblesup_xml(path: Path, tags: Mapping[str, int] = VOC_TAGS, skip_unknown: bool = False) -> XmlScribbles:
    """Read one ScribbleSup ``pascal_2012`` XML file.

    Parameters
    ----------
    path : Path
    tags : mapping of str to int
        Normalised tag -> class id (default: VOC, background 0).
    skip_unknown : bool
        Drop polygons with a tag not in ``tags`` instead of raising.

    Raises
    ------
    DatasetError
        Unparsable XML, missing size, a point without X/Y, or an unknown tag.
    """
    path = Path(path)
    try:
        root = ElementTree.parse(path).getroot()
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (ElementTree.ParseError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: unparsable XML ({error})") from None
    filename = root.findtext("filename")
    name = Path(filename.strip()).stem if filename and filename.strip() else path.stem
    size = root.find("size")
    if size is None:
        raise DatasetError(f"{path}: missing <size>")
    width, height = _int_text(size.find("width"), path, "width"), _int_text(size.find("height"), path, "height")
    if width <= 0 or height <= 0:
        raise DatasetError(f"{path}: image size must be positive, got {width}x{height}")
    if width * height > MAX_IMAGE_PIXELS:
        raise DatasetError(f"{path}: image size {width}x{height} exceeds {MAX_IMAGE_PIXELS:,} pixels")
    polylines = []
    for polygon in root.iter("polygon"):
        tag = (polygon.findtext("tag") or "").strip()
        label = tags.get(tag_key(tag))
        if label is None:
            if skip_unknown:
                continue
            raise DatasetError(
                f"{path}: unknown tag {tag!r}, none of the {len(set(tags.values()))} classes "
                "(--skip-unknown drops such polylines)"
            )
        points = [(_int_text(p.find("X"), path, "X"), _int_text(p.find("Y"), path, "Y")) for p in polygon.iter("point")]
        if points:
            polylines.append((int(label), np.array(points, dtype=float)))
    return XmlScribbles(name, height, width, tuple(polylines))


def draw_polylines(
    polylines: Sequence[tuple[int, np.ndarray]],
    shape: tuple[int, int],
    width: int = SCRIBBLESUP_WIDTH,
    dtype: type = np.uint8,
) -> tuple[np.ndarray, list[Stroke]]:
    """Rasterise labelled polylines in order (later ones win); pixels outside the image are dropped.

    Returns
    -------
    label_map : ndarray of ``dtype`` (uint8 or uint16), shape (H, W)
        Its largest value (255, 65535) where no polyline passes.
    strokes : list of Stroke
        One ``"human"`` stroke per polyline that left at least one pixel.
    """
    label_map: np.ndarray = np.full(shape, unlabelled_value(dtype), dtype=dtype)
    strokes = []
    for label, points in polylines:
        rows, cols = stroke_pixels(points, shape, width)
        if rows.size:
            label_map[rows, cols] = label
            strokes.append(Stroke(points, label, None, HUMAN_STYLE))
    return label_map, strokes


@dataclass
class ImportSummary:
    """What an import wrote."""

    scribbles: ScribbleSet
    images: int
    strokes: int

    def line(self) -> str:
        return f"{self.scribbles.folder}: {self.images} images, {self.strokes} strokes"


def import_scribblesup(
    xml_dir: Path,
    out: Path,
    *,
    seed: int = 0,
    prefix: str | None = None,
    width: int = SCRIBBLESUP_WIDTH,
    skip_unknown: bool = False,
    overwrite: bool = False,
    label_png: str | None = None,
) -> ImportSummary:
    """Import a folder of ScribbleSup XML files as scribble set ``seed`` of ``out``.

    Tags are matched to the classes of ``out`` by name (VOC's when ``out`` has no
    ``meta.json`` yet), so ``pottedplant`` lands on a COCO build's "potted plant".

    Raises
    ------
    DatasetError
        Missing folder, no XML file, a bad XML file, a tag that names none of the
        target's classes, or an existing target set.
    """
    xml_dir = Path(xml_dir)
    if not xml_dir.is_dir():
        raise DatasetError(f"{xml_dir}: XML folder not found")
    files = sorted(xml_dir.glob("*.xml"))
    if not files:
        raise DatasetError(f"{xml_dir}: no *.xml files")
    tags = class_tags(_target_classes(out) or VOC_CLASS_NAMES)
    parsed = [parse_scribblesup_xml(f, tags, skip_unknown=skip_unknown) for f in files]  # fail before writing
    prefix = _target_prefix(out, prefix, "scribblesup")
    check_target(out, prefix, str(seed), overwrite)
    mode = label_png_mode(out, label_png)
    prefix = ensure_meta(
        out, dataset="scribblesup", prefix=prefix, classes=VOC_CLASS_NAMES, tag=str(seed), label_png=mode
    )
    count = 0

    def items():
        nonlocal count
        for scribbles in parsed:
            label_map, strokes = draw_polylines(scribbles.polylines, (scribbles.height, scribbles.width), width)
            count += len(strokes)
            yield scribbles.name, label_map, stroke_record(scribbles.name, strokes, source="scribblesup")

    written = write_set(out, prefix, str(seed), items(), label_png=mode)
    return ImportSummary(written, len(parsed), count)


def _target_classes(out: Path) -> list[str] | None:
    """Class names of an existing ``out``, or None if it has no ``meta.json`` yet."""
    return read_meta(out)["classes"] if Layout(out).meta.is_file() else None


def _check_labels(maps: Mapping[str, np.ndarray], folder: Path, classes: Sequence[str]) -> None:
    for name, label_map in maps.items():
        labels = np.unique(label_map)
        foreign = labels[(labels != unlabelled_value(label_map.dtype)) & (labels >= len(classes))]
        if foreign.size:
            raise DatasetError(
                f"{folder / name}.png: label {int(foreign[0])} is not a class "
                f"(the target has {len(classes)} classes, 0..{len(classes) - 1})"
            )


def _target_prefix(out: Path, prefix: str | None, default: str) -> str:
    if Layout(out).meta.is_file():
        existing = read_meta(out)["prefix"]
        if prefix and prefix != existing:
            raise LayoutError(f"{Layout(out).meta}: prefix is {existing!r}, not --prefix {prefix!r}")
        return existing
    return prefix or default


def import_png(
    png_dir: Path,
    out: Path,
    *,
    seed: int = 0,
    prefix: str | None = None,
    classes: Sequence[str] | None = None,
    overwrite: bool = False,
    label_png: str | None = None,
) -> ImportSummary:
    """Import a folder of scribble label PNGs (255 = unlabelled) as scribble set ``seed`` of ``out``.

    Strokes are recovered from the pixels (see :func:`vectorise`). ``classes`` names the
    class ids for a new ``meta.json`` (default ``class_k``); into an existing ``out``,
    every label must be one of its classes.

    Raises
    ------
    DatasetError
        Missing folder, no PNG, an unreadable PNG or one with 3 differing channels, a
        label beyond the classes, or an existing target set.
    """
    png_dir = Path(png_dir)
    if not png_dir.is_dir():
        raise DatasetError(f"{png_dir}: PNG folder not found")
    files = sorted(p for p in png_dir.glob("*.png") if not p.name.startswith("."))
    if not files:
        raise DatasetError(f"{png_dir}: no *.png files")
    maps = {f.stem: read_label_map(f) for f in files}  # fail before writing
    prefix = _target_prefix(out, prefix, "imported")
    check_target(out, prefix, str(seed), overwrite)
    classes = _target_classes(out) or classes
    if classes is None:
        top = max((int(m[m != unlabelled_value(m.dtype)].max(initial=0)) for m in maps.values()), default=0)
        classes = ["background"] + [f"class_{k}" for k in range(1, top + 1)]
    _check_labels(maps, png_dir, classes)
    mode = label_png_mode(out, label_png, classes=len(classes))
    prefix = ensure_meta(out, dataset="png", prefix=prefix, classes=classes, tag=str(seed), label_png=mode)
    count = 0

    def items():
        nonlocal count
        for name, label_map in maps.items():
            strokes = vectorise(label_map)
            count += len(strokes)
            yield name, label_map, stroke_record(name, strokes, source="png")

    written = write_set(out, prefix, str(seed), items(), label_png=mode)
    return ImportSummary(written, len(maps), count)

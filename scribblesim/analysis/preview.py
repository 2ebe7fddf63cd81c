"""Preview scribble sets: per-image overlays and a contact sheet.

One preview is a strip of captioned panels: the image, the dense ground truth in the
class palette, then one panel per scribble set (seed) with its scribbles drawn over the
dimmed image in the class palette, each stroke ringed by a contrasting outline
(background scribbles white, as :func:`scribblesim.sets.palette.overlay` draws them), and a
legend naming the classes shown. A missing image or ground truth becomes a grey panel,
so imported sets without images preview too. When a preview is shrunk (the contact
sheet, which has one legend at the bottom), strokes are thickened first so that they
stay visible; captions are never cut.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont
from scipy import ndimage

from ..engine.result import label_dtype, unlabelled_value
from ..errors import ConfigError, DatasetError
from ..sets.files import write_bytes_atomic
from ..sets.layout import Layout
from ..sets.palette import OVERLAY_BACKGROUND, colorize, overlay, palette_of
from ..sets.scribble_set import ScribbleSet, read_label_map

#: Grey of panels whose picture is missing.
MISSING_GREY = 128
#: Height (pixels) of each row of the contact sheet.
SHEET_ROW_HEIGHT = 160
_CAPTION = 18
_GAP = 4


def _font() -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=13)
    except TypeError:  # Pillow without FreeType support
        return ImageFont.load_default()


def find_image(out: Path, name: str) -> Path | None:
    """``OUT/JPEGImages/{name}.*`` if one exists (any extension)."""
    for path in sorted(Layout(out).images.glob(f"{name}.*")):
        if path.exists():
            return path
    return None


def _read_rgb(path: Path | None) -> np.ndarray | None:
    if path is None:
        return None
    try:
        with Image.open(path) as image:
            return np.asarray(image.convert("RGB"))
    except OSError:
        return None


def thicken(label_map: np.ndarray, size: int) -> np.ndarray:
    """Grow labelled pixels into a ``size`` x ``size`` neighbourhood (unlabelled pixels only)."""
    if size <= 1:
        return label_map
    unlabelled = unlabelled_value(label_map.dtype)
    grown = np.where(label_map == unlabelled, -1, label_map.astype(np.int32))
    grown = ndimage.maximum_filter(grown, size=size)
    return np.where(label_map != unlabelled, label_map, np.where(grown < 0, unlabelled, grown)).astype(label_map.dtype)


def _captioned(panel: np.ndarray, caption: str) -> np.ndarray:
    """The panel under its caption; a caption wider than the panel widens the canvas (white)."""
    width = max(panel.shape[1], math.ceil(_font().getlength(caption)) + 6)
    canvas = Image.new("RGB", (width, panel.shape[0] + _CAPTION), "white")
    canvas.paste(Image.fromarray(panel), (0, _CAPTION))
    ImageDraw.Draw(canvas).text((3, 2), caption, fill="black", font=_font())
    return np.asarray(canvas)


def legend(labels: Iterable[int], class_names: Sequence[str], width: int) -> np.ndarray:
    """Rows of colour swatches and class names, as the overlays draw them, ``width`` wide."""
    font, entries = _font(), []
    labels = sorted(labels)
    palette = palette_of(label_dtype(labels[-1] if labels else 0))
    for label in labels:
        name = class_names[label] if label < len(class_names) else f"class {label}"
        colour = tuple(int(c) for c in (OVERLAY_BACKGROUND if label == 0 else palette[label]))
        entries.append((colour, name, 14 + 4 + math.ceil(font.getlength(name)) + 12))
    lines: list[list[tuple]] = []
    current: list[tuple] = []
    used = 0
    for entry in entries:
        if current and used + entry[2] > width:
            lines.append(current)
            current, used = [], 0
        current.append(entry)
        used += entry[2]
    lines += [current] if current else []
    canvas = Image.new("RGB", (width, max(1, len(lines)) * _CAPTION), "white")
    draw = ImageDraw.Draw(canvas)
    for row, line in enumerate(lines):
        x, y = 3, row * _CAPTION + 2
        for colour, name, advance in line:
            draw.rectangle((x, y, x + 13, y + 13), fill=colour, outline="black")
            draw.text((x + 18, y), name, fill="black", font=font)
            x += advance
    return np.asarray(canvas)


def _resize(array: np.ndarray, height: int, resample) -> np.ndarray:
    width = max(1, round(array.shape[1] * height / array.shape[0]))
    return np.asarray(Image.fromarray(array).resize((width, height), resample))


def _label_maps(sets: Sequence[ScribbleSet], name: str) -> list[np.ndarray | None]:
    """Each set's label map of image ``name``, ``None`` where it has none."""
    maps: list[np.ndarray | None] = []
    for scribbles in sets:
        try:
            maps.append(scribbles.label_map(name))
        except DatasetError:
            maps.append(None)
    return maps


def preview_image(
    out: Path,
    name: str,
    sets: Sequence[ScribbleSet],
    *,
    height: int | None = None,
    with_legend: bool = True,
) -> np.ndarray:
    """The preview strip of one image: image, ground truth, then each set's scribbles.

    Parameters
    ----------
    out : Path
        Build output holding ``JPEGImages/`` and ``SegmentationClassAug/``.
    name : str
        Image id.
    sets : sequence of ScribbleSet
        Scribble sets to show side by side (e.g. ``open_set(out, 1)``, ``open_set(out, 2)``).
    height : int, optional
        Panel height in pixels (default: the image's own).
    with_legend : bool
        Add rows naming the classes the scribbles show (see :func:`legend`).

    Returns
    -------
    ndarray of uint8, shape (H, W, 3)
        RGB strip.
    """
    maps = dict(zip((s.tag for s in sets), _label_maps(sets, name)))
    image = _read_rgb(find_image(out, name))
    gt_path = Layout(out).ground_truth(name)
    truth = read_label_map(gt_path) if gt_path.is_file() else None
    shape = next((a.shape[:2] for a in (image, truth, *maps.values()) if a is not None), None)
    if shape is None:
        raise DatasetError(f"{out}: nothing to preview for image {name!r}")
    scale = 1.0 if height is None else height / shape[0]
    blank = np.full((*shape, 3), MISSING_GREY, dtype=np.uint8)
    base = image if image is not None and image.shape[:2] == shape else blank
    panels = [(base, f"{name}" if image is not None else f"{name} (no image)")]
    panels.append(
        (
            colorize(truth) if truth is not None and truth.shape == shape else blank,
            "ground truth" if truth is not None else "no ground truth",
        )
    )
    for scribbles in sets:
        label_map = maps[scribbles.tag]
        if label_map is None or label_map.shape != shape:
            panels.append((blank, f"seed {scribbles.tag}: missing"))
            continue
        pixels = int((label_map != unlabelled_value(label_map.dtype)).sum())
        shown = thicken(label_map, math.ceil(1.0 / scale)) if scale < 1 else label_map
        panels.append((overlay(base, shown), f"seed {scribbles.tag} ({pixels} px)"))
    labels = scribbled_labels(maps.values()) if with_legend else None
    return panel_strip(panels, labels, sets[0].classes, height=height)


def panel_strip(
    panels: Sequence[tuple[np.ndarray, str]],
    labels: Iterable[int] | None,
    class_names: Sequence[str],
    *,
    height: int | None = None,
) -> np.ndarray:
    """Captioned (H, W, 3) RGB panels side by side, and under them a legend of ``labels`` (None: no legend).

    ``height`` resizes every panel to it (Lanczos); the panels otherwise keep their sizes.
    """
    strips = []
    for panel, caption in panels:
        if height is not None and panel.shape[0] != height:
            panel = _resize(panel, height, Image.Resampling.LANCZOS)
        strips.append(_captioned(panel, caption))
        strips.append(np.full((strips[-1].shape[0], _GAP, 3), 255, dtype=np.uint8))
    strip = np.concatenate(strips[:-1], axis=1)
    if labels is None:
        return strip
    return np.concatenate([strip, legend(labels, class_names, strip.shape[1])], axis=0)


def scribbled_labels(label_maps) -> list[int]:
    """Labels present in any of the given label maps (``None`` entries are skipped)."""
    return sorted(
        set().union(*(np.unique(m[m != unlabelled_value(m.dtype)]).tolist() for m in label_maps if m is not None))
    )


def contact_sheet(strips: Sequence[np.ndarray], background: int = 255) -> np.ndarray:
    """Stack preview strips vertically, left-aligned, on a white canvas."""
    if not strips:
        raise ConfigError("no preview strips to put on a contact sheet")
    width = max(s.shape[1] for s in strips)
    rows = []
    for strip in strips:
        row = np.full((strip.shape[0] + _GAP, width, 3), background, dtype=np.uint8)
        row[: strip.shape[0], : strip.shape[1]] = strip
        rows.append(row)
    return np.concatenate(rows, axis=0)


def png_bytes(rgb: np.ndarray) -> bytes:
    """PNG encoding of an RGB array."""
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG")
    return buffer.getvalue()


def choose_names(first: ScribbleSet, ids: Sequence[str] | None, count: int) -> list[str]:
    """The given ids (each must be in ``first``), or the first ``count`` ids of ``first``."""
    available = first.names()
    if ids:
        missing = [i for i in ids if i not in set(available)]
        if missing:
            raise DatasetError(f"{first.folder}: no scribbles for --ids {', '.join(missing)}")
        return list(ids)
    return available[:count]


def write_previews(
    out: Path,
    sets: Sequence[ScribbleSet],
    dest: Path,
    *,
    ids: Sequence[str] | None = None,
    count: int = 16,
    sheet_height: int = SHEET_ROW_HEIGHT,
) -> list[Path]:
    """Write ``dest/{id}.png`` for each chosen image and ``dest/contact_sheet.png``; return the paths."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    names = choose_names(sets[0], ids, count)
    if not names:
        raise DatasetError(f"{sets[0].folder}: no scribble PNGs to preview")
    written, rows, labels = [], [], set()
    for name in names:
        path = dest / f"{name}.png"
        write_bytes_atomic(path, png_bytes(preview_image(out, name, sets)))
        written.append(path)
        rows.append(preview_image(out, name, sets, height=sheet_height, with_legend=False))
        labels |= set(scribbled_labels(_label_maps(sets, name)))
    sheet_rows = contact_sheet(rows)
    sheet = dest / "contact_sheet.png"
    write_bytes_atomic(
        sheet, png_bytes(np.concatenate([sheet_rows, legend(labels, sets[0].classes, sheet_rows.shape[1])]))
    )
    return written + [sheet]

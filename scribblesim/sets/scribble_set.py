"""Scribble sets: one annotator's scribbles over an output ``OUT`` (paths in :mod:`.layout`).

A set is ``OUT/{prefix}_scribble_r{tag}/{id}.png`` (255 = unlabelled, 0 = background,
k = class k) with ``OUT/strokes_r{tag}.jsonl``; ``prefix`` comes from ``OUT/meta.json``.
A build's human set (tag ``human``) is spelt without the ``r`` (see :func:`.layout.set_name`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets.base import SIXTEEN_BIT_MODES, read_png
from ..engine.result import MAX_8BIT_CLASS
from ..errors import DatasetError, LayoutError
from .files import (
    DEFAULT_LABEL_PNG,
    LABEL_PNG_MODES,
    default_label_png,
    json_bytes,
    label_png_bytes,
    write_bytes_atomic,
)
from .layout import Layout, meta_record, read_meta, read_records, record_line, write_meta


@dataclass(frozen=True)
class ScribbleSet:
    """One annotator's scribbles in a build output (see the module docstring)."""

    out: Path
    prefix: str
    tag: str
    classes: tuple[str, ...] = ()

    @property
    def folder(self) -> Path:
        return Layout(self.out).scribble_dir(self.prefix, self.tag)

    @property
    def strokes_path(self) -> Path:
        return Layout(self.out).strokes(self.tag)

    def names(self) -> list[str]:
        """Image ids that have a scribble PNG, sorted."""
        return sorted(p.stem for p in self.folder.glob("*.png") if not p.name.startswith("."))

    def label_map(self, name: str) -> np.ndarray:
        """The scribble label map of one image (uint8, 255 = unlabelled; 16-bit sets uint16, 65535)."""
        return read_label_map(self.folder / f"{name}.png")

    def records(self) -> dict[str, dict]:
        """Stroke records by image id; empty if the set has no strokes file."""
        return read_records(self.strokes_path) if self.strokes_path.is_file() else {}


def open_set(out: Path, tag: str | int) -> ScribbleSet:
    """The scribble set ``tag`` of the build output ``out``.

    Raises
    ------
    LayoutError
        If ``out`` is not a scribblesim output (see :func:`read_meta`).
    DatasetError
        If the set's scribble folder is missing or its writing was cut short.
    """
    meta = read_meta(out)
    scribbles = ScribbleSet(Path(out), meta["prefix"], str(tag), tuple(meta.get("classes", ())))
    if not scribbles.folder.is_dir():
        raise DatasetError(f"{scribbles.folder}: scribble folder not found (no seed {tag} in {out})")
    _check_complete(scribbles)
    return scribbles


#: Written last into a set made by :func:`write_set`: the strokes file's digest and the
#: image count, so that a reader can tell a set whose writing was cut short.
COMPLETE_MARK = ".complete.json"


def _check_complete(scribbles: ScribbleSet) -> None:
    mark = scribbles.folder / COMPLETE_MARK
    if not mark.is_file():
        return  # a build's seed folder: the build itself resumes and checks it
    expected = json.loads(mark.read_text())
    strokes = scribbles.strokes_path.read_bytes() if scribbles.strokes_path.is_file() else b""
    if (
        hashlib.sha256(strokes).hexdigest() != expected["strokes_sha256"]
        or len(scribbles.names()) != expected["images"]
    ):
        raise DatasetError(
            f"{scribbles.folder}: incomplete scribble set (its writing was interrupted); "
            "rerun the command that wrote it"
        )


def read_label_map(path: Path) -> np.ndarray:
    """Read a label PNG (grayscale, palette, or 3 equal channels) as uint8 class ids, or a
    16-bit grayscale one as uint16 (65535 unlabelled).

    :class:`DatasetError` names the file if it is unreadable or has 3 differing channels.
    """
    labels = read_png(path, modes=("P", "L", *SIXTEEN_BIT_MODES))
    return labels if labels.dtype == np.uint16 else labels.astype(np.uint8)


def recorded_label_png(meta: dict) -> str | None:
    """The label PNG mode an output's ``meta.json`` records, or None if it holds no labels yet.

    Outputs written before the mode was recorded hold palette PNGs.
    """
    mode = meta.get("label_png")
    if mode in LABEL_PNG_MODES:
        return mode
    return "palette" if meta.get("splits") or meta.get("seeds") or meta.get("imported") else None


def label_png_mode(
    out: Path, requested: str | None = None, option: str = "--label-png", classes: int | None = None
) -> str:
    """The label PNG mode for new files in ``out``: the one it already holds, else ``requested``,
    else gray (gray16 where ``classes``, the class count with background, needs ids above 254).

    Raises
    ------
    LayoutError
        If ``requested`` differs from the mode ``out`` already holds (one output, one mode),
        or the mode is 8-bit and ``classes`` needs 16 bits.
    """
    meta_path = Layout(out).meta
    existing = recorded_label_png(read_meta(out)) if meta_path.is_file() else None
    if requested is not None and existing is not None and requested != existing:
        raise LayoutError(
            f"{meta_path}: {out} holds {existing} label PNGs; {option} {requested} would mix "
            f"modes (pass {option} {existing} or use another --out)"
        )
    wanted = DEFAULT_LABEL_PNG if classes is None else default_label_png(classes)
    mode = existing or requested or wanted
    if classes is not None and wanted == "gray16" and mode != "gray16":
        raise LayoutError(f"{out}: {mode} label PNGs hold class ids up to {MAX_8BIT_CLASS}, not {classes - 1}")
    return mode


def write_set(
    out: Path, prefix: str, tag: str, items: Iterable[tuple[str, np.ndarray, dict]], label_png: str = DEFAULT_LABEL_PNG
) -> ScribbleSet:
    """Write a scribble set: one label PNG per image and the strokes JSONL, all atomically.

    Parameters
    ----------
    out, prefix, tag
        Where: ``out/{prefix}_scribble_r{tag}/`` and ``out/strokes_r{tag}.jsonl``.
    items : iterable of (name, label_map, record)
        Image id, label map (uint8 or uint16) and its stroke record (see :func:`stroke_record`).
    label_png : {"gray", "palette", "gray16"}
        Label PNG mode (see :func:`label_png_mode` for the one ``out`` holds).
    """
    scribbles = ScribbleSet(Path(out), prefix, str(tag))
    # Written aside and renamed when whole: a failure midway leaves the old set, or none.
    partial = scribbles.folder.with_name(f".{scribbles.folder.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    lines = {}
    for name, label_map, record in items:
        (partial / f"{name}.png").write_bytes(label_png_bytes(label_map, label_png))
        lines[name] = record_line(record)
    strokes = b"".join(lines[n] for n in sorted(lines))
    mark = {"strokes_sha256": hashlib.sha256(strokes).hexdigest(), "images": len(lines)}
    (partial / COMPLETE_MARK).write_bytes(json_bytes(mark))
    shutil.rmtree(scribbles.folder, ignore_errors=True)
    os.replace(partial, scribbles.folder)
    write_bytes_atomic(scribbles.strokes_path, strokes)  # until this lands, readers refuse the set
    return scribbles


def ensure_meta(
    out: Path, *, dataset: str, prefix: str, classes: Sequence[str], tag: str, label_png: str = DEFAULT_LABEL_PNG
) -> str:
    """Prefix of ``out``'s scribble folders; writes a minimal ``meta.json`` if there is none."""
    out = Path(out)
    if Layout(out).meta.is_file():
        return read_meta(out)["prefix"]
    out.mkdir(parents=True, exist_ok=True)
    meta = meta_record(
        dataset=dataset, prefix=prefix, classes=classes, label_png=label_png, seeds=[], splits={}, imported=[tag]
    )
    write_meta(out, meta)
    return prefix


def check_target(out: Path, prefix: str, tag: str, overwrite: bool) -> None:
    """Refuse to write set ``tag`` over a non-empty one unless ``overwrite``.

    Raises
    ------
    LayoutError
        If ``out`` already holds a set ``tag``.
    """
    folder = ScribbleSet(Path(out), prefix, tag).folder
    if not overwrite and folder.is_dir() and any(folder.iterdir()):
        raise LayoutError(f"{folder}: already exists; choose another --seed or pass --overwrite")

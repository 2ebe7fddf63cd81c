"""Scribble sets: one annotator's scribbles over a build output ``OUT``.

::

    OUT/{prefix}_scribble_r{tag}/{id}.png   255 = unlabelled, 0 = background, k = class k
    OUT/strokes_r{tag}.jsonl                one JSON object per image: strokes and skips

``prefix`` comes from ``OUT/meta.json``. ``tag`` is a seed (``"1"``), a degraded set
(``"1_shrink0.5"``, see :mod:`scribblesim.sets.degrade`) or an imported annotator (``"0"``).

Split lists live in ``OUT/ImageSets/SegmentationAug/`` and are named by role (see
:func:`split_list_name`): ``train.txt`` for a split named ``train*``, ``val.txt`` for
``val*``, ``{split}.txt`` otherwise. :func:`split_list_path` finds a split's list by its
real name (``train2017``) or its role name (``train``).
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

from ..datasets.base import DatasetError, read_json, read_png
from ..engine.result import UNLABELLED, Stroke
from .files import DEFAULT_LABEL_PNG, LABEL_PNG_MODES, json_bytes, label_png_bytes, write_bytes_atomic
from .palette import PALETTE

#: Folder of the split lists, relative to a build output.
SPLIT_LIST_DIR = Path("ImageSets") / "SegmentationAug"
#: Split-name prefixes that name a role, and the list file each one writes.
SPLIT_ROLES = ("train", "val")


def split_list_name(split: str) -> str:
    """File name of ``split``'s image list: ``train.txt`` / ``val.txt`` by role, else ``{split}.txt``.

    A split whose name starts with ``train`` (``train2014``, ``train2017``, ``train``) is
    the training list the authors' loader and ``csptrain`` read by default; likewise ``val``.
    """
    for role in SPLIT_ROLES:
        if split.startswith(role):
            return f"{role}.txt"
    return f"{split}.txt"


def split_list_path(out: Path, split: str) -> Path:
    """The image list of ``split`` in the build output ``out``: by real or by role name.

    ``split`` may be the split the build was made from (``train2017``, looked up in
    ``meta.json``, else named by :func:`split_list_name`), the list's own name (``train``),
    or, for older builds, the name of a ``{split}.txt`` file.

    Raises
    ------
    DatasetError
        If no list is found, or ``split`` names a real split this output does not hold
        while its role's list belongs to another split.
    """
    folder = Path(out) / SPLIT_LIST_DIR
    meta_path = Path(out) / "meta.json"
    splits: dict = {}
    if meta_path.is_file():
        meta = read_json(meta_path, "not found")
        splits = meta.get("splits", {}) if isinstance(meta, dict) else {}
        splits = splits if isinstance(splits, dict) else {}
    recorded = {name: (info.get("list_file") if isinstance(info, dict) else None) or split_list_name(name)
                for name, info in splits.items()}
    by_role = folder / split_list_name(split)
    if split in recorded:
        candidates = [folder / recorded[split], folder / f"{split}.txt"]
    else:
        owners = [name for name, file in recorded.items() if file == by_role.name and name != by_role.stem]
        if owners and split != by_role.stem:
            raise DatasetError(f"{by_role}: lists split {owners[0]!r}, not {split!r} (splits here: {', '.join(sorted(recorded))})")
        candidates = [by_role, folder / f"{split}.txt"]
    for path in candidates:
        if path.is_file():
            return path
    raise DatasetError(f"{candidates[0]}: split file not found")


def read_meta(out: Path) -> dict:
    """Read ``OUT/meta.json``; :class:`DatasetError` names the folder or file if unusable."""
    out = Path(out)
    if not out.is_dir():
        raise DatasetError(f"{out}: output folder not found")
    path = out / "meta.json"
    meta = read_json(path, "not found (not a scribblesim output folder)")
    if not isinstance(meta, dict) or not isinstance(meta.get("prefix"), str):
        raise DatasetError(f"{path}: missing the 'prefix' string")
    return meta


@dataclass(frozen=True)
class ScribbleSet:
    """One annotator's scribbles in a build output (see the module docstring)."""

    out: Path
    prefix: str
    tag: str
    classes: tuple[str, ...] = ()

    @property
    def folder(self) -> Path:
        return self.out / f"{self.prefix}_scribble_r{self.tag}"

    @property
    def strokes_path(self) -> Path:
        return self.out / f"strokes_r{self.tag}.jsonl"

    def names(self) -> list[str]:
        """Image ids that have a scribble PNG, sorted."""
        return sorted(p.stem for p in self.folder.glob("*.png") if not p.name.startswith("."))

    def label_map(self, name: str) -> np.ndarray:
        """The scribble label map of one image (uint8, 255 = unlabelled)."""
        return read_label_map(self.folder / f"{name}.png")

    def records(self) -> dict[str, dict]:
        """Stroke records by image id; empty if the set has no strokes file."""
        if not self.strokes_path.is_file():
            return {}
        records = {}
        for number, line in enumerate(self.strokes_path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                records[str(record["image"])] = record
            except (json.JSONDecodeError, KeyError, TypeError) as error:
                raise DatasetError(f"{self.strokes_path}:{number}: bad stroke record ({error})") from None
        return records


def open_set(out: Path, tag: str | int) -> ScribbleSet:
    """The scribble set ``tag`` of the build output ``out``.

    Raises
    ------
    DatasetError
        If ``out``, its ``meta.json`` or the set's scribble folder is missing.
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
    if hashlib.sha256(strokes).hexdigest() != expected["strokes_sha256"] or len(scribbles.names()) != expected["images"]:
        raise DatasetError(f"{scribbles.folder}: incomplete scribble set (its writing was interrupted); "
                           "rerun the command that wrote it")


def read_label_map(path: Path) -> np.ndarray:
    """Read a label PNG (grayscale, palette, or 3 equal channels) as uint8 class ids.

    :class:`DatasetError` names the file if it is unreadable or has 3 differing channels.
    """
    return read_png(path, modes=("P", "L")).astype(np.uint8)


def stroke_record(name: str, strokes: Sequence[Stroke | dict], skipped: Sequence[dict] = (), **extra) -> dict:
    """One line of a strokes JSONL file, in the build's format."""
    return {
        "image": name,
        "strokes": [s if isinstance(s, dict) else s.to_dict() for s in strokes],
        "skipped": list(skipped),
        **extra,
    }


def _record_line(record: dict) -> bytes:
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def recorded_label_png(meta: dict) -> str | None:
    """The label PNG mode an output's ``meta.json`` records, or None if it holds no labels yet.

    Outputs written before the mode was recorded hold palette PNGs.
    """
    mode = meta.get("label_png")
    if mode in LABEL_PNG_MODES:
        return mode
    return "palette" if meta.get("splits") or meta.get("seeds") or meta.get("imported") else None


def label_png_mode(out: Path, requested: str | None = None, option: str = "--label-png") -> str:
    """The label PNG mode for new files in ``out``: the one it already holds, else ``requested`` or gray.

    Raises
    ------
    DatasetError
        If ``requested`` differs from the mode ``out`` already holds (one output, one mode).
    """
    meta_path = Path(out) / "meta.json"
    existing = recorded_label_png(read_meta(out)) if meta_path.is_file() else None
    if requested is not None and existing is not None and requested != existing:
        raise DatasetError(f"{meta_path}: {out} holds {existing} label PNGs; {option} {requested} would mix "
                           f"modes (pass {option} {existing} or use another --out)")
    return existing or requested or DEFAULT_LABEL_PNG


def write_set(out: Path, prefix: str, tag: str, items: Iterable[tuple[str, np.ndarray, dict]],
              label_png: str = DEFAULT_LABEL_PNG) -> ScribbleSet:
    """Write a scribble set: one label PNG per image and the strokes JSONL, all atomically.

    Parameters
    ----------
    out, prefix, tag
        Where: ``out/{prefix}_scribble_r{tag}/`` and ``out/strokes_r{tag}.jsonl``.
    items : iterable of (name, label_map, record)
        Image id, uint8 label map and its stroke record (see :func:`stroke_record`).
    label_png : {"gray", "palette"}
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
        lines[name] = _record_line(record)
    strokes = b"".join(lines[n] for n in sorted(lines))
    mark = {"strokes_sha256": hashlib.sha256(strokes).hexdigest(), "images": len(lines)}
    (partial / COMPLETE_MARK).write_bytes(json_bytes(mark))
    shutil.rmtree(scribbles.folder, ignore_errors=True)
    os.replace(partial, scribbles.folder)
    write_bytes_atomic(scribbles.strokes_path, strokes)  # until this lands, readers refuse the set
    return scribbles


def ensure_meta(out: Path, *, dataset: str, prefix: str, classes: Sequence[str], tag: str,
                label_png: str = DEFAULT_LABEL_PNG) -> str:
    """Prefix of ``out``'s scribble folders; writes a minimal ``meta.json`` if there is none."""
    out = Path(out)
    path = out / "meta.json"
    if path.is_file():
        return read_meta(out)["prefix"]
    out.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": "scribblesim-1",
        "dataset": dataset,
        "prefix": prefix,
        "classes": list(classes),
        "palette": PALETTE[: len(classes)].tolist(),
        "ignore_index": UNLABELLED,
        "label_png": label_png,
        "seeds": [],
        "imported": [tag],
        "splits": {},
    }
    write_bytes_atomic(path, json_bytes(meta))
    return prefix


def check_target(out: Path, prefix: str, tag: str, overwrite: bool) -> None:
    folder = ScribbleSet(Path(out), prefix, tag).folder
    if not overwrite and folder.is_dir() and any(folder.iterdir()):
        raise DatasetError(f"{folder}: already exists; choose another --seed or pass --overwrite")

"""Scribble sets: one annotator's scribbles over a build output ``OUT``.

::

    OUT/{prefix}_scribble_r{tag}/{id}.png   255 = unlabelled, 0 = background, k = class k
    OUT/strokes_r{tag}.jsonl                one JSON object per image: strokes and skips

``prefix`` comes from ``OUT/meta.json``. ``tag`` is a seed (``"1"``), a degraded set
(``"1_shrink0.5"``, see :mod:`scribblesim.degrade`) or an imported annotator (``"0"``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .datasets.base import DatasetError, read_json, read_png
from .io import json_bytes, label_png_bytes, write_bytes_atomic
from .palette import PALETTE
from .result import UNLABELLED, Stroke

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
    return scribbles


def read_label_map(path: Path) -> np.ndarray:
    """Read a single-channel label PNG as uint8; :class:`DatasetError` names the file if unusable."""
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


def write_set(out: Path, prefix: str, tag: str, items: Iterable[tuple[str, np.ndarray, dict]]) -> ScribbleSet:
    """Write a scribble set: one label PNG per image and the strokes JSONL, all atomically.

    Parameters
    ----------
    out, prefix, tag
        Where: ``out/{prefix}_scribble_r{tag}/`` and ``out/strokes_r{tag}.jsonl``.
    items : iterable of (name, label_map, record)
        Image id, uint8 label map and its stroke record (see :func:`stroke_record`).
    """
    scribbles = ScribbleSet(Path(out), prefix, str(tag))
    scribbles.folder.mkdir(parents=True, exist_ok=True)
    lines = {}
    for name, label_map, record in items:
        write_bytes_atomic(scribbles.folder / f"{name}.png", label_png_bytes(label_map))
        lines[name] = _record_line(record)
    write_bytes_atomic(scribbles.strokes_path, b"".join(lines[n] for n in sorted(lines)))
    return scribbles


def ensure_meta(out: Path, *, dataset: str, prefix: str, classes: Sequence[str], tag: str) -> str:
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

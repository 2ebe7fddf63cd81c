"""The layout of a scribblesim output folder: every path, ``meta.json`` and the stroke records.

::

    OUT/
      ImageSets/SegmentationAug/{list}.txt    image names, no extension (see split_list_name)
      JPEGImages/{name}{ext}                  symlink to (or copy of) the image
      SegmentationClassAug/{name}.png         dense ground truth, 255 = ignore (16-bit: 65535)
      {prefix}_scribble_r{tag}/{name}.png     scribbles, 255 = unlabelled (16-bit: 65535)
      {prefix}_scribble_human/{name}.png      the dataset's own human scribbles (ScribbleACDC)
      strokes_r{tag}.jsonl                    stroke records, one JSON object per image
      strokes_human.jsonl                     stroke records of the human set
      meta.json                               classes, palette, config, seeds, counts, skips
      .scribblesim/strokes_r{seed}/{name}.json  a build's per-image records (what a rerun resumes from)

``tag`` is a seed (``"1"``), a degraded set (``"1_shrink0.5"``), an imported annotator
(``"0"``), or ``"human"`` (and its degraded sets, ``"human_shrink0.5"``): the human
scribbles a dataset carries, which a build writes as a set of their own, named without
the ``r`` (see :func:`set_name`). This module is the one place that names these paths,
makes, reads and writes ``meta.json`` (see :func:`meta_record`) and the stroke records.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import orjson

from ..datasets.base import read_json
from ..engine.result import UNLABELLED, UNLABELLED_16, Stroke
from ..errors import DatasetError, LayoutError
from .files import json_bytes, write_if_changed
from .palette import class_palette

#: ``meta.json``'s format tag.
META_FORMAT = "scribblesim-1"
#: Split-name prefixes that name a role, and the list file each one writes.
SPLIT_ROLES = ("train", "val")
#: Folder of the split lists, relative to an output.
SPLIT_LIST_DIR = Path("ImageSets") / "SegmentationAug"
IMAGE_DIR = "JPEGImages"
GROUND_TRUTH_DIR = "SegmentationClassAug"
META_FILE = "meta.json"
#: A build's own bookkeeping (per-image stroke records), hidden from dataset readers.
STATE_DIR = ".scribblesim"
#: Tag of the human scribbles a dataset carries (ScribbleACDC's experts), a set beside the seeds.
HUMAN_TAG = "human"
#: Packages whose versions a build records in ``meta.json``.
VERSIONED = ("scribblesim", "numpy", "scipy", "scikit-image", "opencv-python-headless", "bezier", "shapely", "pillow")


def set_name(tag: str | int) -> str:
    """How set ``tag`` is spelt in folder and file names: ``r{tag}`` for a seed's set
    (``r1``, ``r1_shrink0.5``), the tag itself for the human set (``human``, ``human_shrink0.5``)."""
    text = str(tag)
    return text if text == HUMAN_TAG or text.startswith(f"{HUMAN_TAG}_") else f"r{text}"


@dataclass(frozen=True)
class Layout:
    """Paths of one output folder ``out`` (see the module docstring)."""

    out: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "out", Path(self.out))

    @property
    def meta(self) -> Path:
        return self.out / META_FILE

    @property
    def split_lists(self) -> Path:
        return self.out / SPLIT_LIST_DIR

    @property
    def images(self) -> Path:
        return self.out / IMAGE_DIR

    @property
    def ground_truth_dir(self) -> Path:
        return self.out / GROUND_TRUTH_DIR

    @property
    def state(self) -> Path:
        return self.out / STATE_DIR

    def split_list(self, list_file: str) -> Path:
        return self.split_lists / list_file

    def image(self, name: str, suffix: str) -> Path:
        return self.images / f"{name}{suffix}"

    def image_files(self) -> dict[str, Path]:
        """Each image's file by its name, from one listing of the image folder (the first by suffix)."""
        found: dict[str, Path] = {}
        for path in sorted(self.images.iterdir()) if self.images.is_dir() else []:
            found.setdefault(path.stem, path)
        return found

    def ground_truth(self, name: str) -> Path:
        return self.ground_truth_dir / f"{name}.png"

    def scribble_dir(self, prefix: str, tag: str | int) -> Path:
        return self.out / f"{prefix}_scribble_{set_name(tag)}"

    def scribble_dirs(self) -> list[Path]:
        """Every scribble folder of any prefix and tag."""
        found = {*self.out.glob("*_scribble_r*"), *self.out.glob(f"*_scribble_{HUMAN_TAG}*")}
        return sorted(p for p in found if p.is_dir())

    def strokes(self, tag: str | int) -> Path:
        return self.out / f"strokes_{set_name(tag)}.jsonl"

    def strokes_files(self) -> list[Path]:
        return sorted({*self.out.glob("strokes_r*.jsonl"), *self.out.glob(f"strokes_{HUMAN_TAG}*.jsonl")})

    def record_dir(self, seed: int | str) -> Path:
        """A build's per-image stroke records of one seed (or of the human set)."""
        return self.state / f"strokes_{set_name(seed)}"

    def recorded_names(self) -> set[str]:
        """Image names that have a build record for any seed (or the human set)."""
        return {p.stem for p in self.state.glob("strokes_*/*.json")}


def split_list_name(split: str) -> str:
    """File name of ``split``'s image list: ``train.txt`` / ``val.txt`` by role, else ``{split}.txt``.

    A split whose name starts with ``train`` (``train2014``, ``train2017``, ``train``) is
    the training list the authors' loader and ``csptrain`` read by default; likewise ``val``.
    """
    for role in SPLIT_ROLES:
        if split.startswith(role):
            return f"{role}.txt"
    return f"{split}.txt"


def recorded_splits(meta: dict) -> dict[str, dict]:
    """``meta``'s split records (malformed entries read as empty)."""
    splits = meta.get("splits")
    if not isinstance(splits, dict):
        return {}
    return {name: info if isinstance(info, dict) else {} for name, info in splits.items()}


def split_list_files(meta: dict) -> dict[str, str]:
    """The list file each split of ``meta`` writes."""
    return {name: info.get("list_file") or split_list_name(name) for name, info in recorded_splits(meta).items()}


def split_list_path(out: Path, split: str) -> Path:
    """The image list of ``split`` in the output ``out``: by real or by role name.

    ``split`` may be the split the build was made from (``train2017``, looked up in
    ``meta.json``, else named by :func:`split_list_name`), the list's own name (``train``),
    or, for older builds, the name of a ``{split}.txt`` file.

    Raises
    ------
    DatasetError
        If no list is found.
    LayoutError
        If ``split`` names a real split this output does not hold while its role's list
        belongs to another split.
    """
    layout = Layout(out)
    recorded = split_list_files(recorded_meta(out))
    by_role = layout.split_list(split_list_name(split))
    if split in recorded:
        candidates = [layout.split_list(recorded[split]), layout.split_list(f"{split}.txt")]
    else:
        owners = [name for name, file in recorded.items() if file == by_role.name and name != by_role.stem]
        if owners and split != by_role.stem:
            raise LayoutError(
                f"{by_role}: lists split {owners[0]!r}, not {split!r} (splits here: {', '.join(sorted(recorded))})"
            )
        candidates = [by_role, layout.split_list(f"{split}.txt")]
    for path in candidates:
        if path.is_file():
            return path
    raise DatasetError(f"{candidates[0]}: split file not found")


def recorded_meta(out: Path) -> dict:
    """``OUT/meta.json`` as it stands, or ``{}`` if there is none.

    Raises
    ------
    DatasetError
        If the file exists but is not a JSON object.
    """
    path = Layout(out).meta
    if not path.is_file():
        return {}
    meta = read_json(path, "not found")
    if not isinstance(meta, dict):
        raise DatasetError(f"{path}: expected a JSON object")
    return meta


def read_meta(out: Path) -> dict:
    """Read ``OUT/meta.json`` of an existing output.

    Raises
    ------
    LayoutError
        If ``out`` is not a scribblesim output (no folder, no ``meta.json``, no prefix).
    DatasetError
        If ``meta.json`` is not valid JSON.
    """
    out = Path(out)
    if not out.is_dir():
        raise LayoutError(f"{out}: output folder not found")
    path = Layout(out).meta
    if not path.exists():  # as read_json's "not found", but a folder that is not a build is a LayoutError
        raise LayoutError(f"{path}: not found (not a scribblesim output folder)")
    meta = read_json(path, "not found (not a scribblesim output folder)")
    if not isinstance(meta, dict) or not isinstance(meta.get("prefix"), str):
        raise LayoutError(f"{path}: missing the 'prefix' string")
    return meta


def write_meta(out: Path, meta: dict) -> None:
    """Write ``OUT/meta.json`` atomically (untouched if unchanged)."""
    write_if_changed(Layout(out).meta, json_bytes(meta))


def package_versions() -> dict[str, str]:
    """Versions of the :data:`VERSIONED` packages installed here (``"unknown"`` for a missing one)."""
    return dict(_package_versions())


@cache
def _package_versions() -> dict[str, str]:
    found = {}
    for package in VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


def meta_record(
    *,
    dataset: str,
    prefix: str,
    classes: Sequence[str],
    label_png: str,
    seeds: Sequence[int],
    splits: dict[str, dict],
    config: dict | None = None,
    versions: dict[str, str] | None = None,
    source: dict | None = None,
    imported: list[str] | None = None,
) -> dict:
    """The ``meta.json`` record of an output, from its parts.

    Parameters
    ----------
    dataset, prefix
        The dataset name and the scribble folders' prefix.
    classes : sequence of str
        Names by class id; the palette and the ignore index follow from them.
    label_png : {"gray", "palette", "gray16"}
        Mode of the label PNGs (gray16: 16-bit, whose ignore index is 65535).
    seeds : sequence of int
        Seeds built (see :func:`merged_seeds`); empty for imported sets only.
    splits : dict
        Split records by split name (see :func:`split_record` and :func:`merge_split`).
    config, versions, source, imported : optional
        The simulation config and package versions (builds), where the annotations came
        from (``{"root": ..., "split": ...}``), and the imported set tags; a part left
        None is not recorded.
    """
    meta = {
        "format": META_FORMAT,
        "dataset": dataset,
        "prefix": prefix,
        "classes": list(classes),
        "palette": class_palette(len(classes)).tolist(),
        "ignore_index": UNLABELLED_16 if label_png == "gray16" else UNLABELLED,
        "label_png": label_png,
        "seeds": list(seeds),
        "splits": splits,
    }
    optional = {"config": config, "versions": versions, "source": source, "imported": imported}
    meta.update({key: value for key, value in optional.items() if value is not None})
    return meta


def merged_seeds(meta: dict, prefix: str, built: Sequence[int]) -> list[int]:
    """The seeds an output holds once ``built`` are written with ``prefix`` next to ``meta``'s.

    Earlier seeds count only under the same prefix: other folders are another set of seeds.
    """
    if meta.get("prefix") != prefix:
        return list(built)
    return sorted(set(meta.get("seeds", [])) | set(built))


def _per_seed(counts: Mapping[tuple[int | str, str], int], seeds: Sequence[int | str]) -> dict[str, dict[str, int]]:
    """Counts by ``(seed, kind)`` as ``meta.json``'s table by seed (a string) and kind; every seed listed."""
    table: dict[str, dict[str, int]] = {str(seed): {} for seed in seeds}
    for (seed, kind), count in sorted(counts.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        table.setdefault(str(seed), {})[kind] = count
    return table


def split_record(
    *,
    list_file: str,
    keep_empty: bool,
    images: int,
    seeds: Sequence[int | str],
    strokes: Mapping[tuple[int | str, str], int],
    skipped_objects: Mapping[tuple[int | str, str], int],
    left_out: Sequence[tuple[str, str]],
    skipped: Sequence[tuple[str, str]],
) -> dict:
    """One split's record in ``meta.json``.

    Parameters
    ----------
    list_file : str
        Its image list (see :func:`split_list_name`).
    keep_empty : bool
        Whether images without annotations were kept.
    images : int
        Images listed.
    seeds : sequence of int or str
        Seeds built (and ``"human"``, a build's human set); each gets a (maybe empty) table of counts.
    strokes, skipped_objects : mapping of (seed, kind) to int
        Strokes by style and skipped objects by reason; a build's human set counts its
        strokes under the seed ``"human"``.
    left_out, skipped : sequence of (image, reason)
        Images left out for want of annotations, and images that could not be used.
    """
    return {
        "images": images,
        "images_left_out": len(left_out),
        "images_skipped": len(skipped),
        "list_file": list_file,
        "keep_empty": keep_empty,
        "strokes": _per_seed(strokes, seeds),
        "skipped_objects": _per_seed(skipped_objects, seeds),
        "left_out_images": [{"image": name, "reason": reason} for name, reason in left_out],
        "skipped_images": [{"image": name, "reason": reason} for name, reason in skipped],
    }


def merge_split(meta: dict, split: str, summary: dict) -> dict[str, dict]:
    """``meta``'s split records with ``split``'s replaced by ``summary``.

    Per-seed tables (``strokes``, ``skipped_objects``) keep the seeds of earlier builds
    that ``summary`` does not hold, so ``--seeds 1`` then ``--seeds 2`` records both.
    """
    splits = recorded_splits(meta)
    previous = splits.get(split, {})
    merged = dict(summary)
    for key in ("strokes", "skipped_objects"):
        if isinstance(previous.get(key), dict):
            merged[key] = {**previous[key], **summary[key]}
    return {**splits, split: merged}


def stroke_record(name: str, strokes: Sequence[Stroke | dict], skipped: Sequence[dict] = (), **extra) -> dict:
    """One image's stroke record: its strokes, the objects skipped with their reasons, and ``extra``."""
    return {
        "image": name,
        "strokes": [s if isinstance(s, dict) else s.to_dict() for s in strokes],
        "skipped": list(skipped),
        **extra,
    }


def record_line(record: dict) -> bytes:
    """A stroke record as one compact JSON line (the JSONL and per-image record format).

    The bytes are those of ``json.dumps(record, separators=(",", ":"))`` and a newline,
    for records of strings and finite numbers. orjson writes them, as encoding stroke points
    took a tenth of a build with the standard library; where it would write them
    differently (non-ASCII or DEL unescaped, another escape) or not at all (int keys), the
    standard library writes the line.
    """
    try:
        line = orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE)
    except orjson.JSONEncodeError:
        line = None
    if line is not None and line.isascii() and b"\x7f" not in line and b"\\" not in line:
        return line
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def read_records(path: Path) -> dict[str, dict]:
    """Stroke records of a JSONL file by image id.

    Raises
    ------
    DatasetError
        Naming the file and line of a record that is not one.
    """
    records = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            records[str(record["image"])] = record
        except (json.JSONDecodeError, KeyError, TypeError) as error:
            raise DatasetError(f"{path}:{number}: bad stroke record ({error})") from None
    return records

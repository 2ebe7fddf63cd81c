"""One image of a build: its ground truth, image link and scribbles for every seed.

Label PNGs are 8-bit grayscale class ids by default (``label_png="palette"`` adds the
class palette). An image without annotations (see :func:`left_out_reason`) is left out
unless ``keep_empty``; one that cannot be used (an unusable annotation record, an
unreadable image file, see :func:`image_problem`) is skipped. Either way it gets no file,
and its :class:`ImageReport` says why.

A dataset without image files (slices of a volume: ``generates_image`` samples) has its
image written as an 8-bit grayscale PNG, and a dataset that carries human scribbles
(``BuildSpec.human``) has them written as the set ``human`` beside the seeds, with
strokes recovered from the pixels (style ``"human"``).

:func:`process_image` depends on nothing but its sample and :class:`BuildSpec`, and every
file is written atomically, so the output does not depend on the worker count or order,
and a killed build resumes where it stopped.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from PIL import Image, UnidentifiedImageError

from ..datasets.base import LoadedSample
from ..engine.config import SimConfig
from ..engine.result import ScribbleMap
from ..engine.simulate import simulate_seeds
from ..engine.vectorise import vectorise
from ..errors import DatasetError
from .files import DEFAULT_LABEL_PNG, image_png_bytes, label_png_bytes, link_or_copy_atomic, write_bytes_atomic
from .layout import HUMAN_TAG, Layout, record_line, split_list_name, stroke_record

#: Suffix of the images a build writes itself (``generates_image`` samples).
GENERATED_IMAGE_SUFFIX = ".png"


class Sample(Protocol):
    """One image's own annotations, light enough to ship to a worker.

    A sample may also have a boolean ``annotated`` attribute when its dataset decides
    without decoding whether the image counts as annotated (COCO); see :func:`left_out_reason`.
    A sample with a true ``generates_image`` attribute has no image file: its image is
    :attr:`LoadedSample.pixels`, written as ``JPEGImages/{name}.png``.
    """

    name: str
    image_path: Path | None

    def load(self) -> LoadedSample:
        """Decode the annotations; raise :class:`DatasetError` if this image is unreadable."""


@dataclass(frozen=True)
class BuildSpec:
    """What to write and where: everything a worker needs besides its sample."""

    out: Path
    split: str
    prefix: str
    seeds: tuple[int, ...]
    config: SimConfig
    copy_images: bool = False
    label_png: str = DEFAULT_LABEL_PNG
    keep_empty: bool = False
    human: bool = False

    @property
    def list_file(self) -> str:
        """Name of the split list under ``ImageSets/SegmentationAug`` (see :func:`split_list_name`)."""
        return split_list_name(self.split)

    @property
    def layout(self) -> Layout:
        return Layout(self.out)

    @property
    def tags(self) -> tuple[int | str, ...]:
        """The sets written: the seeds, then ``"human"`` if the dataset's human scribbles are."""
        return (*self.seeds, HUMAN_TAG) if self.human else self.seeds

    def scribble_dir(self, seed: int | str) -> Path:
        return self.layout.scribble_dir(self.prefix, seed)

    def part_dir(self, seed: int | str) -> Path:
        return self.layout.record_dir(seed)

    def folders(self) -> list[Path]:
        fixed = [self.layout.split_lists, self.layout.images, self.layout.ground_truth_dir]
        return fixed + [self.scribble_dir(s) for s in self.tags] + [self.part_dir(s) for s in self.tags]


#: Counts by ``(seed, kind)``: strokes by style, skipped objects by reason (the human set's
#: strokes under the seed ``"human"``).
SeedCounts = Counter[tuple[int | str, str]]


@dataclass
class ImageReport:
    """What happened to one image (returned by workers)."""

    name: str
    error: str | None = None
    left_out: str | None = None
    computed: int = 0
    strokes: SeedCounts = field(default_factory=Counter)
    skipped: SeedCounts = field(default_factory=Counter)


def _record(image_name: str, result: ScribbleMap, empty_reasons: dict[int, str]) -> dict:
    """The stroke record of one image; an empty mask's skip says why, when its adapter knows."""
    skips = [
        replace(skip, reason=f"{skip.reason}: {empty_reasons[skip.instance]}")
        if skip.kind == "empty mask" and skip.instance in empty_reasons
        else skip
        for skip in result.skipped
    ]
    return stroke_record(image_name, result.strokes, [skip.to_dict() for skip in skips])


#: Reasons an image is left out of a build (unless ``keep_empty``).
NO_ANNOTATIONS = "no annotations"
NO_INSTANCES = "no object instances"


def left_out_reason(sample: Sample, loaded: LoadedSample | None = None) -> str | None:
    """Why ``sample`` is left out of a build without ``keep_empty``, or None if it is built.

    A sample with an ``annotated`` attribute decides itself before decoding: COCO leaves
    out an image with no annotation record at all (as the paper's counts and the reference
    simulator do) and keeps one with only crowd annotations. Any other sample is left out
    once ``loaded`` shows no object instance (Cityscapes, VOC, folder).
    """
    annotated = getattr(sample, "annotated", None)
    if annotated is not None:
        return None if annotated else NO_ANNOTATIONS
    if loaded is not None and len(loaded.masks) == 0:
        return NO_INSTANCES
    return None


def _written(path: Path) -> bool:
    # Per-image files skip the fsync: after a power loss one may exist but be empty.
    return path.is_file() and path.stat().st_size > 0


def image_problem(path: Path, shape: tuple[int, int]) -> str | None:
    """Why the image file ``path`` does not go with a ``(height, width)`` label map, or None.

    Cheap: reads the header (an empty, non-image or cut-off file fails), compares the size,
    and looks for a JPEG's end-of-image marker in its last 4 KiB (a truncated JPEG has none).
    """
    try:
        with Image.open(path) as image:
            size, kind = image.size, image.format
    except UnidentifiedImageError:
        return f"{path}: {'empty file' if Path(path).stat().st_size == 0 else 'not an image file'}"
    except (OSError, SyntaxError, ValueError) as error:
        return f"{path}: unreadable image ({error})"
    if size != (shape[1], shape[0]):
        return f"{path}: image is {size[0]} x {size[1]}, its annotations {shape[1]} x {shape[0]}"
    if kind == "JPEG":
        with open(path, "rb") as handle:
            handle.seek(max(0, handle.seek(0, 2) - 4096))
            if b"\xff\xd9" not in handle.read():
                return f"{path}: truncated JPEG (no end-of-image marker)"
    return None


def process_image(sample: Sample, spec: BuildSpec) -> ImageReport:
    """Write one image's ground truth, image link and scribbles for every seed.

    Seeds whose scribble PNG and stroke record both exist are not recomputed, which is
    what makes a rerun resume (and a finished rerun a no-op). An image left out (see
    :func:`left_out_reason`) or skipped (an unusable annotation record, or an image file
    that fails :func:`image_problem` before it is linked) gets no file.
    """
    report = ImageReport(sample.name)
    name = sample.name
    if not spec.keep_empty:
        report.left_out = left_out_reason(sample)
        if report.left_out:
            return report
    source = None if sample.image_path is None else Path(sample.image_path)
    if source is not None and not source.is_file():
        report.error = f"{source}: image file not found"
        return report
    generated = spec.layout.image(name, GENERATED_IMAGE_SUFFIX) if getattr(sample, "generates_image", False) else None
    image_link = None if source is None else spec.layout.image(name, source.suffix)
    linked = image_link is None or image_link.is_file() or image_link.is_symlink()
    gt_path = spec.layout.ground_truth(name)
    done = {
        tag
        for tag in spec.tags
        if _written(spec.scribble_dir(tag) / f"{name}.png") and _written(spec.part_dir(tag) / f"{name}.json")
    }
    todo = [s for s in spec.seeds if s not in done]
    human_todo = spec.human and HUMAN_TAG not in done
    records: dict[int | str, dict] = {}
    if todo or human_todo or not linked or not _written(gt_path) or (generated is not None and not _written(generated)):
        try:
            loaded = sample.load()
        except DatasetError as error:
            report.error = str(error)
            return report
        if not spec.keep_empty:
            report.left_out = left_out_reason(sample, loaded)
            if report.left_out:
                return report
        if source is not None and image_link is not None and not linked:
            report.error = image_problem(source, loaded.semantic.shape)
            if report.error:
                return report
        report.error = _generated_problem(loaded, generated, human_todo)
        if report.error:
            return report
        if generated is not None and loaded.pixels is not None and not _written(generated):
            write_bytes_atomic(generated, image_png_bytes(loaded.pixels), durable=False)
        if not _written(gt_path):
            write_bytes_atomic(gt_path, label_png_bytes(loaded.semantic, spec.label_png), durable=False)
        results = (
            simulate_seeds(loaded.masks, loaded.classes, todo, loaded.image_id, spec.config, ignore=loaded.ignore)
            if todo
            else []
        )
        for seed, result in zip(todo, results):
            records[seed] = _record(name, result, loaded.empty_reasons)
            write_bytes_atomic(spec.part_dir(seed) / f"{name}.json", record_line(records[seed]), durable=False)
            write_bytes_atomic(
                spec.scribble_dir(seed) / f"{name}.png",
                label_png_bytes(result.label_map, spec.label_png),
                durable=False,
            )
            report.computed += 1
        if human_todo and loaded.human is not None:
            records[HUMAN_TAG] = stroke_record(name, vectorise(loaded.human))
            write_bytes_atomic(
                spec.part_dir(HUMAN_TAG) / f"{name}.json", record_line(records[HUMAN_TAG]), durable=False
            )
            write_bytes_atomic(
                spec.scribble_dir(HUMAN_TAG) / f"{name}.png",
                label_png_bytes(loaded.human, spec.label_png),
                durable=False,
            )
        if source is not None and image_link is not None and not linked:
            link_or_copy_atomic(source, image_link, spec.copy_images)
    return _counted(report, spec, records)


def _counted(report: ImageReport, spec: BuildSpec, records: dict[int | str, dict]) -> ImageReport:
    """``report`` with each set's stroke and skip counts, from ``records`` or the image's record files."""
    for tag in spec.tags:
        record = records.get(tag) or json.loads((spec.part_dir(tag) / f"{report.name}.json").read_bytes())
        report.strokes.update((tag, s["style"]) for s in record["strokes"])
        report.skipped.update((tag, s["kind"]) for s in record["skipped"])
    return report


def finished_report(name: str, spec: BuildSpec) -> ImageReport:
    """The report of an image that :func:`finished_images` found done: its counts, nothing computed."""
    return _counted(ImageReport(name), spec, {})


def finished_images(spec: BuildSpec) -> set[str]:
    """Names of the images whose every file is written, from one listing of each folder.

    A rerun skips them without a worker or a per-image check: the ground truth, an image
    (link, copy or generated PNG) and, for every set, a scribble PNG and a stroke record,
    each non-empty (see :func:`_written`). Temporary files (``.name.tmp``) do not count.
    """

    def listed(folder: Path, suffix: str, *, sized: bool = True) -> set[str]:
        if not folder.is_dir():
            return set()
        with os.scandir(folder) as entries:
            return {
                entry.name[: -len(suffix)] if suffix else entry.name.rpartition(".")[0]
                for entry in entries
                if entry.name.endswith(suffix)
                and not entry.name.startswith(".")
                and (not sized or entry.stat().st_size > 0)
            }

    names = listed(spec.layout.ground_truth_dir, ".png") & listed(spec.layout.images, "", sized=False)
    for tag in spec.tags:
        names &= listed(spec.scribble_dir(tag), ".png") & listed(spec.part_dir(tag), ".json")
    return names


def _generated_problem(loaded: LoadedSample, generated: Path | None, human: bool) -> str | None:
    """Why the image a sample generates, or the human scribbles a build wants of it, cannot be written."""
    shape = loaded.semantic.shape
    if generated is not None and (loaded.pixels is None or loaded.pixels.shape != shape):
        got = "none" if loaded.pixels is None else f"shape {loaded.pixels.shape}"
        return f"{loaded.name}: image pixels ({got}) do not match the ground truth's shape {shape}"
    if human and (loaded.human is None or loaded.human.shape != shape):
        got = "none" if loaded.human is None else f"shape {loaded.human.shape}"
        return f"{loaded.name}: human scribbles ({got}) do not match the ground truth's shape {shape}"
    return None

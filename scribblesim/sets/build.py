"""Build a scribble dataset: every image of a split, one scribble folder per seed.

The output has the published ScribbleCOCO layout (see :mod:`.layout`).

Label PNGs are 8-bit grayscale class ids by default (``label_png="palette"`` adds the
class palette). Images without annotations (see :func:`left_out_reason`) are left out,
listed with their reason in ``meta.json``, unless ``keep_empty``. An image that cannot be
used (an unusable annotation record, an unreadable image file, see :func:`image_problem`)
is skipped with its reason in ``meta.json``.

``meta.json`` is written before the first image, so that a rerun with other options than
the ones it records is refused even after a killed build (see :func:`check_rerun`);
:func:`remove_build` starts over.

Every image is processed independently (see :func:`process_image`) and every file is
written atomically, so the output does not depend on the worker count or order, and a
killed build resumes where it stopped.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol

import joblib
from PIL import Image, UnidentifiedImageError
from tqdm.auto import tqdm

from ..datasets.base import LoadedSample
from ..engine.config import SimConfig
from ..engine.result import ScribbleMap
from ..engine.simulate import simulate_seeds
from ..errors import DatasetError
from .files import (
    DEFAULT_LABEL_PNG,
    label_png_bytes,
    link_or_copy_atomic,
    remove_stale_temporaries,
    write_bytes_atomic,
    write_if_changed,
)
from .layout import (
    META_FORMAT,
    SPLIT_LIST_DIR,
    Layout,
    merge_split,
    record_line,
    recorded_meta,
    recorded_splits,
    split_list_files,
    split_list_name,
    stroke_record,
    write_meta,
)
from .palette import PALETTE
from .processes import keep_freed_memory, start_worker
from .scribble_set import recorded_label_png

_VERSIONED = ("scribblesim", "numpy", "scipy", "scikit-image", "networkx", "bezier", "shapely", "pillow")


class Sample(Protocol):
    """One image's own annotations, light enough to ship to a worker.

    A sample may also have a boolean ``annotated`` attribute when its dataset decides
    without decoding whether the image counts as annotated (COCO); see :func:`left_out_reason`.
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

    @property
    def list_file(self) -> str:
        """Name of the split list under ``ImageSets/SegmentationAug`` (see :func:`split_list_name`)."""
        return split_list_name(self.split)

    @property
    def layout(self) -> Layout:
        return Layout(self.out)

    def scribble_dir(self, seed: int) -> Path:
        return self.layout.scribble_dir(self.prefix, seed)

    def part_dir(self, seed: int) -> Path:
        return self.layout.record_dir(seed)

    def folders(self) -> list[Path]:
        fixed = [self.layout.split_lists, self.layout.images, self.layout.ground_truth_dir]
        return fixed + [self.scribble_dir(s) for s in self.seeds] + [self.part_dir(s) for s in self.seeds]


@dataclass
class ImageReport:
    """What happened to one image (returned by workers)."""

    name: str
    error: str | None = None
    left_out: str | None = None
    computed: int = 0
    strokes: Counter = field(default_factory=Counter)
    skipped: Counter = field(default_factory=Counter)


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
    image_link = None if source is None else spec.layout.image(name, source.suffix)
    linked = image_link is None or image_link.is_file() or image_link.is_symlink()
    gt_path = spec.layout.ground_truth(name)
    todo = [
        s
        for s in spec.seeds
        if not (_written(spec.scribble_dir(s) / f"{name}.png") and _written(spec.part_dir(s) / f"{name}.json"))
    ]
    records = {}
    if todo or not linked or not _written(gt_path):
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
        if source is not None and image_link is not None and not linked:
            link_or_copy_atomic(source, image_link, spec.copy_images)
    for seed in spec.seeds:
        record = records.get(seed) or json.loads((spec.part_dir(seed) / f"{name}.json").read_bytes())
        report.strokes.update(f"{seed}:{s['style']}" for s in record["strokes"])
        report.skipped.update(f"{seed}:{s['kind']}" for s in record["skipped"])
    return report


def _versions() -> dict[str, str]:
    found = {}
    for package in _VERSIONED:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "unknown"
    return found


def _write_strokes(spec: BuildSpec) -> None:
    """Concatenate every stroke record of the output folder into ``strokes_r{seed}.jsonl``."""
    for seed in spec.seeds:
        parts = sorted(spec.part_dir(seed).glob("*.json"))
        write_if_changed(spec.layout.strokes(seed), b"".join(p.read_bytes() for p in parts))


def _split_summary(spec: BuildSpec, reports: Sequence[ImageReport], strokes: Counter, skipped: Counter) -> dict:
    def per_seed(counts: Counter) -> dict:
        table: dict[str, dict[str, int]] = {str(seed): {} for seed in spec.seeds}
        for key, count in sorted(counts.items()):
            seed, kind = key.split(":", 1)
            table.setdefault(seed, {})[kind] = count
        return table

    left_out = [{"image": r.name, "reason": r.left_out} for r in reports if r.left_out]
    return {
        "images": sum(r.error is None and r.left_out is None for r in reports),
        "images_left_out": len(left_out),
        "images_skipped": sum(r.error is not None for r in reports),
        "list_file": spec.list_file,
        "keep_empty": spec.keep_empty,
        "strokes": per_seed(strokes),
        "skipped_objects": per_seed(skipped),
        "left_out_images": left_out,
        "skipped_images": [{"image": r.name, "reason": r.error} for r in reports if r.error],
    }


def _write_meta(
    spec: BuildSpec, dataset: str, class_names: Sequence[str], summary: dict | None, source: dict | None
) -> None:
    """Write ``meta.json``: ``summary`` replaces the split's entry, its per-seed counts merged
    with the earlier seeds'; without ``summary`` (before a first build) no split and no seed."""
    meta = recorded_meta(spec.out)
    built = spec.seeds if summary is not None else ()
    splits = merge_split(meta, spec.split, summary) if summary is not None else recorded_splits(meta)
    seeds = sorted(set(meta.get("seeds", [])) | set(built)) if meta.get("prefix") == spec.prefix else list(built)
    meta = {
        "format": META_FORMAT,
        "dataset": dataset,
        "prefix": spec.prefix,
        "classes": list(class_names),
        "palette": PALETTE[: len(class_names)].tolist(),
        "ignore_index": 255,
        "label_png": spec.label_png,
        "config": spec.config.to_dict(),
        "seeds": seeds,
        "versions": _versions(),
        "splits": splits,
    }
    if source is not None:
        meta["source"] = source
    write_meta(spec.out, meta)


@dataclass
class BuildSummary:
    """Totals of a build, for the final summary line."""

    images: int
    computed: int
    strokes: Counter
    skipped_objects: Counter
    skipped_images: list[tuple[str, str]]
    seconds: float
    left_out: list[tuple[str, str]] = field(default_factory=list)

    def line(self, seeds: Sequence[int]) -> str:
        styles: Counter = Counter()
        for key, count in self.strokes.items():
            styles[key.split(":", 1)[1]] += count
        reasons: Counter = Counter()
        for key, count in self.skipped_objects.items():
            reasons[key.split(":", 1)[1]] += count
        fmt = lambda c: ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"  # noqa: E731
        left_out = f"left-out images: {len(self.left_out)}"
        if self.left_out:
            left_out += f" ({fmt(Counter(reason for _, reason in self.left_out))}; --keep-empty keeps them)"
        return (
            f"{self.images} images x {len(seeds)} seeds ({self.computed} simulated): "
            f"{sum(styles.values())} strokes ({fmt(styles)}); skipped objects: {fmt(reasons)}; "
            f"{left_out}; skipped images: {len(self.skipped_images)}; {self.seconds:.1f} s"
        )


#: Command-line names of the recorded options that differ from their ``SimConfig`` names.
_OPTION_NAMES = {"width": "--width", "erosion_kernel": "--erosion-kernel", "label_png": "--label-png"}


def check_rerun(spec: BuildSpec, dataset: str | None = None, class_names: Sequence[str] | None = None) -> None:
    """Refuse a build that would mix with what ``spec.out`` already holds.

    One output holds one dataset (with one class list), one label PNG mode and one
    simulation config: a rerun with other ones would keep the earlier files and make
    ``meta.json`` lie. A split built with ``keep_empty`` keeps it (otherwise its empty
    images' files would linger unlisted). Two splits may not write the same split list
    (``train2014`` and ``train2017`` both write ``train.txt``).

    Raises
    ------
    DatasetError
        One line naming the output folder and what differs.
    """
    meta = recorded_meta(spec.out)
    if not meta:
        return
    splits = recorded_splits(meta)
    recorded = {"dataset": meta.get("dataset"), "label_png": recorded_label_png(meta)}
    wanted = {"dataset": dataset, "label_png": spec.label_png}
    differ = [
        f"{_OPTION_NAMES.get(key, key)} {recorded[key]} (not {value})"
        for key, value in wanted.items()
        if value is not None and recorded.get(key) is not None and recorded[key] != value
    ]
    config = meta["config"] if isinstance(meta.get("config"), dict) else {}
    # every recorded simulation option must match, None (a style knob left off) included
    differ += [
        f"{_OPTION_NAMES.get(key, key)} {config[key]} (not {value})"
        for key, value in spec.config.to_dict().items()
        if key in config and config[key] != value
    ]
    if class_names is not None and meta.get("classes") not in (None, list(class_names)):
        differ.append(f"other classes ({len(meta['classes'])} names, not {len(class_names)})")
    previous = splits.get(spec.split)
    if previous is not None and previous.get("keep_empty", True) and not spec.keep_empty:
        differ.append(f"--keep-empty for split {spec.split!r}")
    if differ:
        raise DatasetError(
            f"{spec.out}: built with {', '.join(differ)}; rerun with those, "
            "build into another --out, or pass --overwrite to start over"
        )
    for other, list_file in split_list_files(meta).items():
        if other != spec.split and list_file == spec.list_file:
            raise DatasetError(
                f"{spec.out}: split {other!r} already writes {SPLIT_LIST_DIR / spec.list_file}; "
                f"build split {spec.split!r} into another --out"
            )


def remove_build(out: Path) -> None:
    """Delete what earlier builds wrote into ``out`` (``--overwrite``); other files stay.

    Only in a build output (one with ``meta.json`` or build records). Image links and
    ground truth go by the image names of the build records, so files of other names in
    ``JPEGImages/`` and ``SegmentationClassAug/`` stay.
    """
    layout = Layout(out)
    if not (layout.meta.is_file() or layout.state.is_dir()):
        return
    names = layout.recorded_names()
    for path in layout.images.glob("*"):
        if path.stem in names:
            path.unlink()
    for name in names:
        layout.ground_truth(name).unlink(missing_ok=True)
    try:
        list_files = split_list_files(recorded_meta(out))
    except DatasetError:  # an unreadable meta.json goes too
        list_files = {}
    for list_file in list_files.values():
        layout.split_list(list_file).unlink(missing_ok=True)
    for path in layout.scribble_dirs():
        shutil.rmtree(path)
    for path in [*layout.strokes_files(), layout.meta]:
        path.unlink(missing_ok=True)
    shutil.rmtree(layout.state, ignore_errors=True)


def _process_in(directory: str, sample: Sample, spec: BuildSpec) -> ImageReport:
    """:func:`process_image` in the caller's working directory, so that relative paths mean the same.

    A worker pool outlives one build and may have been started from another directory.
    """
    if os.getcwd() != directory:
        os.chdir(directory)
    return process_image(sample, spec)


#: joblib backends whose workers are processes on this machine.
PROCESS_BACKENDS = ("loky", "multiprocessing")
#: The default backend: forked workers start with everything imported (loky's start afresh,
#: about a second each, which halves the gain of a second job on a small build).
DEFAULT_BACKEND = "multiprocessing" if sys.platform.startswith("linux") else "loky"
#: Images handed out per worker at a time by the multiprocessing backend, which returns
#: results a batch at a time (the progress bar moves by batches).
CHUNK_PER_WORKER = 32


def _workers(jobs: int) -> int:
    return jobs if jobs > 0 else max(1, (os.cpu_count() or 1) + 1 + jobs)


def _in_chunks(tasks: Iterator, size: int) -> Iterator:
    """Results of ``tasks`` a chunk at a time, from one worker pool for all of them.

    One image per dispatch: joblib's automatic batches of several images leave a worker
    idle while the other finishes the chunk's last batch.
    """
    with joblib.Parallel(batch_size=1) as parallel:
        while chunk := list(itertools.islice(tasks, size)):
            yield from parallel(chunk)


def build(
    samples: Iterable[Sample],
    spec: BuildSpec,
    *,
    dataset: str,
    class_names: Sequence[str],
    jobs: int = -1,
    backend: str = DEFAULT_BACKEND,
    progress: bool = True,
    total: int | None = None,
    source: dict | None = None,
    notes: dict | None = None,
    overwrite: bool = False,
) -> BuildSummary:
    """Simulate and write scribbles for every sample and seed.

    Parameters
    ----------
    samples : iterable of Sample
        One per image; only its own payload is shipped to a worker.
    spec : BuildSpec
        Output folder, split, prefix, seeds and simulation config.
    dataset : str
        Dataset name recorded in ``meta.json``.
    class_names : sequence of str
        Names by class id (index 0 is background).
    jobs : int
        Worker count (joblib semantics: -1 = all cores).
    backend : str
        A joblib backend: ``"multiprocessing"`` (forked workers; the default on Linux),
        ``"loky"`` (the default elsewhere), ``"threading"``, ``"sequential"`` or
        ``"dask"`` (needs a ``dask.distributed`` client).
    progress : bool
        Show a progress bar on stderr when it is a terminal.
    total : int, optional
        Number of samples, for the progress bar.
    source : dict, optional
        Where the annotations came from (``{"root": ..., "split": ...}``, a root relative
        to ``spec.out`` where possible), recorded in ``meta.json`` so that ``scribblesim
        stats`` can re-read the true instances.
    notes : dict, optional
        More entries for the split's record in ``meta.json`` (e.g. COCO annotations that
        name no image).
    overwrite : bool
        Delete what earlier builds wrote into ``spec.out`` first (see :func:`remove_build`).

    Returns
    -------
    BuildSummary

    Raises
    ------
    DatasetError
        If ``spec`` would mix with an earlier build in ``spec.out`` (see :func:`check_rerun`).
    """
    start = time.perf_counter()
    if overwrite:
        remove_build(spec.out)
    check_rerun(spec, dataset, class_names)
    for folder in spec.folders():
        folder.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(folder)
    remove_stale_temporaries(spec.out)
    if not spec.layout.meta.is_file():
        _write_meta(spec, dataset, class_names, None, source)
    keep_freed_memory()  # forked workers inherit it; spawned ones set it in start_worker
    # Worker processes end with the build, even one killed with SIGKILL.
    options = {"initializer": start_worker, "initargs": (os.getpid(),)} if backend in PROCESS_BACKENDS else {}
    with joblib.parallel_config(backend=backend, n_jobs=jobs, **options):
        here = os.getcwd()
        tasks = (joblib.delayed(_process_in)(here, sample, spec) for sample in samples)
        results = (
            _in_chunks(tasks, CHUNK_PER_WORKER * _workers(jobs))
            if backend == "multiprocessing"
            else joblib.Parallel(return_as="generator")(tasks)
        )
        reports = []
        with tqdm(total=total, desc=f"{dataset} {spec.split}", unit="img", disable=None if progress else True) as bar:
            for report in results:
                if report.error:
                    warnings.warn(f"skipped image {report.name}: {report.error}", stacklevel=1)
                reports.append(report)
                bar.update(1)
    reports.sort(key=lambda r: r.name)
    names = [r.name for r in reports if r.error is None and r.left_out is None]
    write_if_changed(spec.layout.split_list(spec.list_file), "".join(f"{n}\n" for n in names).encode())
    _write_strokes(spec)
    strokes: Counter = Counter()
    skipped: Counter = Counter()
    for report in reports:
        strokes.update(report.strokes)
        skipped.update(report.skipped)
    _write_meta(
        spec, dataset, class_names, {**_split_summary(spec, reports, strokes, skipped), **(notes or {})}, source
    )
    return BuildSummary(
        images=len(names),
        computed=sum(r.computed for r in reports),
        strokes=strokes,
        skipped_objects=skipped,
        skipped_images=[(r.name, r.error) for r in reports if r.error],
        seconds=time.perf_counter() - start,
        left_out=[(r.name, r.left_out) for r in reports if r.left_out],
    )

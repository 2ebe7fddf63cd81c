"""Build a scribble dataset: every image of a split, one scribble folder per seed.

The output has the published ScribbleCOCO layout (see :mod:`.layout`). Each image is
written by :func:`~.writer.process_image` in a worker (see :mod:`scribblesim.parallel`);
this module then writes what spans the images: the split list, the strokes JSONL files
and ``meta.json`` (made by :func:`~.layout.meta_record`), which lists the images left
out and skipped with their reasons.

``meta.json`` is written before the first image, so that a rerun with other options than
the ones it records is refused even after a killed build (see :func:`check_rerun`);
:func:`remove_build` starts over.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import DatasetError, LayoutError
from ..parallel import DEFAULT_BACKEND, in_workers
from .files import remove_stale_temporaries, write_if_changed
from .layout import (
    HUMAN_TAG,
    SPLIT_LIST_DIR,
    Layout,
    merge_split,
    merged_seeds,
    meta_record,
    package_versions,
    recorded_meta,
    recorded_splits,
    split_list_files,
    split_record,
    write_meta,
)
from .scribble_set import recorded_label_png
from .writer import BuildSpec, ImageReport, Sample, SeedCounts, finished_images, finished_report, process_image

__all__ = ["BuildSpec", "BuildSummary", "Sample", "build", "check_rerun", "remove_build"]


def _write_strokes(spec: BuildSpec) -> None:
    """Concatenate every stroke record of the output folder into ``strokes_r{seed}.jsonl``
    (and ``strokes_human.jsonl``)."""
    for seed in spec.tags:
        parts = sorted(spec.part_dir(seed).glob("*.json"))
        write_if_changed(spec.layout.strokes(seed), b"".join(p.read_bytes() for p in parts))


def _write_meta(
    spec: BuildSpec, dataset: str, class_names: Sequence[str], split: dict | None, source: dict | None
) -> None:
    """Write ``meta.json``: ``split`` replaces the split's record, its per-seed counts merged
    with the earlier seeds'; without ``split`` (before a first build) no split and no seed."""
    previous = recorded_meta(spec.out)
    meta = meta_record(
        dataset=dataset,
        prefix=spec.prefix,
        classes=class_names,
        label_png=spec.label_png,
        seeds=merged_seeds(previous, spec.prefix, spec.seeds if split is not None else ()),
        splits=merge_split(previous, spec.split, split) if split is not None else recorded_splits(previous),
        config=spec.config.to_dict(),
        versions=package_versions(),
        source=source,
    )
    write_meta(spec.out, meta)


@dataclass
class BuildSummary:
    """Totals of a build, for the final summary line."""

    images: int
    computed: int
    strokes: SeedCounts
    skipped_objects: SeedCounts
    skipped_images: list[tuple[str, str]]
    seconds: float
    left_out: list[tuple[str, str]] = field(default_factory=list)

    def line(self, seeds: Sequence[int]) -> str:
        styles: Counter[str] = Counter()
        human = 0
        for (seed, style), count in self.strokes.items():
            if seed == HUMAN_TAG:
                human += count
            else:
                styles[style] += count
        reasons: Counter[str] = Counter()
        for (_, reason), count in self.skipped_objects.items():
            reasons[reason] += count
        fmt = lambda c: ", ".join(f"{k} {v}" for k, v in sorted(c.items())) or "none"  # noqa: E731
        left_out = f"left-out images: {len(self.left_out)}"
        if self.left_out:
            left_out += f" ({fmt(Counter(reason for _, reason in self.left_out))}; --keep-empty keeps them)"
        human_set = f"human set: {human} strokes; " if any(seed == HUMAN_TAG for seed, _ in self.strokes) else ""
        return (
            f"{self.images} images x {len(seeds)} seeds ({self.computed} simulated): "
            f"{sum(styles.values())} strokes ({fmt(styles)}); skipped objects: {fmt(reasons)}; {human_set}"
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
    LayoutError
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
        raise LayoutError(
            f"{spec.out}: built with {', '.join(differ)}; rerun with those, "
            "build into another --out, or pass --overwrite to start over"
        )
    for other, list_file in split_list_files(meta).items():
        if other != spec.split and list_file == spec.list_file:
            raise LayoutError(
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


class _NoBar:
    """What the build loop calls on a progress bar, where none is shown."""

    def update(self, count: int = 1) -> None:
        pass


def _progress_bar(total: int | None, description: str, progress: bool):
    """tqdm's bar where it shows (a terminal or a notebook), else a stand-in.

    tqdm.auto imports asyncio, which a build's start-up need not pay for a bar that would
    stay hidden when the output goes to a file.
    """
    if not progress or not (sys.stderr.isatty() or "ipykernel" in sys.modules):
        return contextlib.nullcontext(_NoBar())
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="img")


def _one_name_each(samples: Iterable[Sample]) -> Iterator[Sample]:
    """``samples``, refused at the first name that an earlier sample has: it would overwrite its files.

    The dataset adapters name images by :func:`scribblesim.datasets.naming.image_names`, so
    this guards samples made elsewhere (the Python API).
    """
    seen: set[str] = set()
    for sample in samples:
        if sample.name in seen:
            raise DatasetError(
                f"two images are named {sample.name!r}: each needs a name of its own "
                "(scribblesim.datasets.naming.image_names gives them)"
            )
        seen.add(sample.name)
        yield sample


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
        One per image, each with a name of its own (a repeated name is a one-line
        :class:`DatasetError`); only its own payload is shipped to a worker.
    spec : BuildSpec
        Output folder, split, prefix, seeds and simulation config.
    dataset : str
        Dataset name recorded in ``meta.json``.
    class_names : sequence of str
        Names by class id (index 0 is background).
    jobs, backend : int, str
        Worker count and joblib backend, as :func:`scribblesim.parallel.in_workers` takes them.
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
    LayoutError
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
    reports: list[ImageReport] = []
    finished = finished_images(spec)  # a rerun skips them at the cost of listing the folders
    already_done: list[str] = []
    with _progress_bar(total, f"{dataset} {spec.split}", progress) as bar:

        def unfinished(samples: Iterable[Sample]) -> Iterator[Sample]:
            for sample in samples:
                if sample.name in finished:
                    already_done.append(sample.name)
                    bar.update(1)
                else:
                    yield sample

        with in_workers(
            process_image, unfinished(_one_name_each(samples)), spec, jobs=jobs, backend=backend
        ) as results:
            for report in results:
                if report.error:
                    warnings.warn(f"skipped image {report.name}: {report.error}", stacklevel=1)
                reports.append(report)
                bar.update(1)
    # a worker killed mid-write (a lost cluster node, a pool's terminate) leaves its temporary file
    for folder in spec.folders():
        remove_stale_temporaries(folder)
    reports += [finished_report(name, spec) for name in already_done]
    reports.sort(key=lambda r: r.name)
    names = [r.name for r in reports if r.error is None and r.left_out is None]
    write_if_changed(spec.layout.split_list(spec.list_file), "".join(f"{n}\n" for n in names).encode())
    _write_strokes(spec)
    strokes: SeedCounts = Counter()
    skipped: SeedCounts = Counter()
    for report in reports:
        strokes.update(report.strokes)
        skipped.update(report.skipped)
    # a skip's reason is never empty (every DatasetError and image problem names its file)
    skipped_images = [(r.name, r.error) for r in reports if r.error]
    left_out = [(r.name, r.left_out) for r in reports if r.left_out]
    split = split_record(
        list_file=spec.list_file,
        keep_empty=spec.keep_empty,
        images=len(names),
        seeds=spec.tags,
        strokes=strokes,
        skipped_objects=skipped,
        left_out=left_out,
        skipped=skipped_images,
    )
    _write_meta(spec, dataset, class_names, {**split, **(notes or {})}, source)
    return BuildSummary(
        images=len(names),
        computed=sum(r.computed for r in reports),
        strokes=strokes,
        skipped_objects=skipped,
        skipped_images=skipped_images,
        seconds=time.perf_counter() - start,
        left_out=left_out,
    )

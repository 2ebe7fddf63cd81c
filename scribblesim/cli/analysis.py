"""``scribblesim preview | stats | degrade | import``: look at, measure, degrade and import scribble sets.

A scribble set is named by ``OUT`` and ``--seed``: a seed (``1``), a degraded set
(``1_shrink0.5``), an imported annotator (``0``) or a build's human set (``human``); see
:mod:`scribblesim.sets.importers`.
User errors raise :class:`DatasetError` naming the path or argument; the ``scribblesim``
command group (:mod:`scribblesim.cli.main`) prints it as one ``error:`` line and exits with status 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ..errors import ConfigError, DatasetError
from ..sets.scribble_set import ScribbleSet, open_set
from .options import SEED, SET_TAG, ListOptionsCommand, jobs_option, label_png_option

if TYPE_CHECKING:
    from ..datasets.human import HumanExample

_PATH = click.Path(path_type=Path)


def _ratio(value: float | None, option: str) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise ConfigError(f"{option}: must lie in [0, 1], got {value:g}")


def _open(out: Path, tag: str, option: str = "--seed") -> ScribbleSet:
    if not tag or "/" in tag or "\\" in tag:
        raise ConfigError(f"{option}: not a seed or set tag: {tag!r}")
    return open_set(out, tag)


def _split_list(values: Sequence[str]) -> list[str]:
    return [item for value in values for item in value.split(",") if item]


def _edges(text: str | None, option: str, default: Sequence[float]) -> tuple[float, ...]:
    if text is None:
        return tuple(default)
    try:
        edges = tuple(float(v) for v in text.split(","))
    except ValueError:
        raise ConfigError(f"{option}: expected comma-separated percentages, got {text!r}") from None
    if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0 or edges[-1] > 100:
        raise ConfigError(f"{option}: need at least two increasing edges within 0..100, got {text!r}")
    return edges


@click.command(
    "preview", cls=ListOptionsCommand, short_help="Overlay images, ground truth and scribbles; contact sheet."
)
@click.argument("out", type=_PATH)
@click.option(
    "--seeds",
    "--seed",
    "seeds",
    type=SET_TAG,
    multiple=True,
    required=True,
    metavar="SEED [SEED ...]",
    help="Scribble sets to show side by side: --seeds 1 2 (a seed or a set tag such as 1_shrink0.5).",
)
@click.option(
    "-n",
    "count",
    type=int,
    default=16,
    show_default=True,
    help="Number of images (the first ones) when --ids is not given.",
)
@click.option(
    "--ids", multiple=True, metavar="ID[,ID...]", help="Image ids to preview (repeatable or comma-separated)."
)
@click.option("--out", "dest", type=_PATH, required=True, help="Folder for {id}.png and contact_sheet.png.")
def preview_command(out: Path, seeds: tuple[str, ...], count: int, ids: tuple[str, ...], dest: Path) -> None:
    """Write per-image overlays (image, ground truth, scribbles of each seed) and a contact sheet."""
    from ..analysis.preview import write_previews

    if count < 1:
        raise ConfigError(f"-n: must be at least 1, got {count}")
    sets = [_open(out, tag) for tag in dict.fromkeys(seeds)]
    written = write_previews(out, sets, dest, ids=_split_list(ids) or None, count=count)
    click.echo(f"{dest}: {len(written) - 1} previews and {written[-1].name}")


_scribbles_option = click.option(
    "--scribbles",
    "scribble_dirs",
    type=_PATH,
    multiple=True,
    metavar="DIR",
    help="HUMAN_DIR is a build output and this folder holds one annotator's scribbles of its images "
    "({id}.png class label maps, 255 unlabelled); repeat it for each annotator.",
)


@click.command("stats", cls=ListOptionsCommand, short_help="Per-object scribble statistics, heatmap, agreement.")
@click.argument("out", type=_PATH, required=False)
@click.option("--seed", default=None, metavar="SEED", help="Scribble set to measure (with OUT).")
@click.option(
    "--out", "dest", type=_PATH, required=True, help="Folder for objects.csv, summary.json and fig18_heatmap.png."
)
@click.option(
    "--compare",
    "compare_out",
    type=_PATH,
    default=None,
    help="Build output holding the set to compare with (default: OUT).",
)
@click.option("--compare-seed", default=None, metavar="SEED", help="Set to compare with (default: --seed).")
@click.option(
    "--root",
    type=_PATH,
    default=None,
    help="Dataset root to re-read instances from (default: meta.json 'source'; else ground-truth components).",
)
@click.option(
    "--split",
    default=None,
    help="Dataset split for --root (default: the build's only split); with --compare-human --scribbles, "
    "also the build's split whose images to take.",
)
@click.option("--radius", type=int, default=3, show_default=True, help="Dilation radius (pixels) of the agreement IoU.")
@click.option("--area-bins", default=None, metavar="E0,E1,...", help="Fig. 18 mask-ratio bin edges in %.")
@click.option("--scribble-bins", default=None, metavar="E0,E1,...", help="Fig. 18 scribble-ratio bin edges in %.")
@click.option(
    "--compare-human",
    "human_dir",
    type=_PATH,
    default=None,
    help="Human scribble folder ({source}/{example}/gt.png, human_*.png): simulate its objects and compare.",
)
@click.option(
    "--sim-seeds",
    type=SEED,
    multiple=True,
    default=(1, 2, 3),
    show_default=True,
    metavar="SEED [SEED ...]",
    help="With --compare-human: the simulated annotators.",
)
@click.option(
    "--style",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --compare-human: simulate this style file (default: the paper's style).",
)
@_scribbles_option
def stats_command(
    out,
    seed,
    dest,
    compare_out,
    compare_seed,
    root,
    split,
    radius,
    area_bins,
    scribble_bins,
    human_dir,
    sim_seeds,
    style,
    scribble_dirs,
) -> None:
    """Per-object scribble statistics, the Fig. 18 heatmap, and agreement with another set.

    With --compare-human (and no OUT), the style measures of human scribbles next to
    simulated ones on the same objects.
    """
    from ..analysis.report import stats_report
    from ..analysis.summary import AREA_EDGES, SCRIBBLE_EDGES
    from ..sets.layout import read_meta

    if human_dir is not None:
        if out is not None or seed is not None:
            raise ConfigError("--compare-human: measures the human folder's own objects; pass no OUT and no --seed")
        examples = _human_examples(human_dir, scribble_dirs, root, split)
        class_names = read_meta(human_dir)["classes"] if scribble_dirs else None  # a build's style names them
        _compare_human(human_dir, dest, tuple(dict.fromkeys(sim_seeds)), style, examples, class_names)
        return
    if style is not None or scribble_dirs:
        raise ConfigError(f"{'--style' if style is not None else '--scribbles'}: only with --compare-human")
    if out is None or seed is None:
        raise ConfigError("stats: pass OUT and --seed (or --compare-human HUMAN_DIR)")
    if radius < 0:
        raise ConfigError(f"--radius: must be >= 0, got {radius}")
    area_edges = _edges(area_bins, "--area-bins", AREA_EDGES)
    scribble_edges = _edges(scribble_bins, "--scribble-bins", SCRIBBLE_EDGES)
    scribbles = _open(out, seed)
    compare = None
    if compare_out is not None or compare_seed is not None:
        compare = _open(compare_out or out, compare_seed or seed, "--compare-seed")
        if compare.folder.resolve() == scribbles.folder.resolve():
            raise ConfigError(f"--compare: {compare.folder} is the measured set itself")
    if root is not None and not root.is_dir():
        raise DatasetError(f"--root: {root}: folder not found")
    report = stats_report(
        scribbles,
        dest,
        compare=compare,
        root=root,
        split=split,
        radius=radius,
        area_edges=area_edges,
        scribble_edges=scribble_edges,
    )
    summary = report.summary
    line = (
        f"{scribbles.folder.name}: {summary['objects']} objects ({summary['objects_from']}), "
        f"median scribble ratio {summary['scribble_ratio']['median']:.3g}"
    )
    if compare is not None:
        line += f"; vs {compare.folder.name}: median dilated IoU {summary['compare']['dilated_iou']['median']:.3g}"
    click.echo(f"{line}; wrote {', '.join(p.name for p in report.files)} to {dest}")


def _human_examples(
    human_dir: Path, scribble_dirs: tuple[Path, ...], root: Path | None, split: str | None
) -> list[HumanExample]:
    """HUMAN_DIR's examples: its own layout, or a build whose images ``scribble_dirs`` scribble."""
    from ..analysis.objects import human_examples_from_build
    from ..datasets.human import read_human_examples

    if scribble_dirs:
        if root is not None and not root.is_dir():
            raise DatasetError(f"--root: {root}: folder not found")
        return human_examples_from_build(human_dir, scribble_dirs, root, split)
    if root is not None or split is not None:
        raise ConfigError("--root, --split: only with --scribbles (HUMAN_DIR a build output)")
    return read_human_examples(human_dir)


def _compare_human(
    human_dir: Path,
    dest: Path,
    seeds: tuple[int, ...],
    style: Path | None,
    examples: list[HumanExample],
    class_names: list[str] | None = None,
) -> None:
    from ..analysis.human_compare import TABLE_LEGEND, compare_report, format_comparison
    from ..engine.config import SimConfig

    config = SimConfig.from_file(style, class_names=class_names) if style is not None else SimConfig()
    comparisons, files = compare_report(human_dir, dest, config, seeds=seeds, examples=examples)
    click.echo(
        f"{human_dir} against {style or 'the default style'}, seeds {' '.join(map(str, seeds))} ({TABLE_LEGEND})"
    )
    click.echo(format_comparison(comparisons))
    click.echo(f"wrote {', '.join(p.name for p in files)} to {dest}")


@click.command("fit", cls=ListOptionsCommand, short_help="Fit a scribble style to human scribbles.")
@click.argument("human_dir", type=_PATH)
@click.option(
    "--out",
    "dest",
    type=click.Path(dir_okay=False, path_type=Path),
    required=True,
    help="Style file to write (JSON; build --style and SimConfig.from_file read it).",
)
@click.option(
    "--seed",
    type=SEED,
    default=1,
    show_default=True,
    help="First simulated annotator of the search (it uses this seed and the next).",
)
@jobs_option("Settings simulated at once (-1: all cores); the style found is the same for any number.")
@_scribbles_option
@click.option(
    "--root",
    type=_PATH,
    default=None,
    help="With --scribbles: dataset root to re-read the build's instances from (default: meta.json 'source').",
)
@click.option(
    "--split",
    default=None,
    help="With --scribbles: the build's split whose images to take (train, val; default: all), "
    "and the dataset split for --root.",
)
@click.option(
    "--held-out",
    type=float,
    default=None,  # fit.HOLD_OUT (fit is imported when the command runs: it is slow to import)
    help="Share of each source's examples held out from the search; the fit is also measured on them. [default: 1/3]",
)
@click.option(
    "--search-examples",
    type=int,
    default=None,  # fit.SEARCH_EXAMPLES
    help="Examples per source that the search simulates (evenly spread over those not held out). [default: 40]",
)
def fit_command(
    human_dir: Path,
    dest: Path,
    seed: int,
    jobs: int,
    scribble_dirs: tuple[Path, ...],
    root: Path | None,
    split: str | None,
    held_out: float | None,
    search_examples: int | None,
) -> None:
    """Search the style knobs so that simulated scribbles match HUMAN_DIR's ({source}/{example}/gt.png, human_*.png).

    With --scribbles, HUMAN_DIR is a scribblesim build output instead, and each folder
    holds one annotator's scribbles of its images.
    """
    from ..analysis.fit import (
        CHAMFER_BAND,
        HOLD_OUT,
        SEARCH_EXAMPLES,
        class_overrides,
        fit_background,
        fit_classes,
        fit_style,
        score,
    )
    from ..analysis.human_compare import TABLE_LEGEND, format_comparison
    from ..sets.files import json_bytes, write_bytes_atomic
    from ..sets.layout import read_meta

    held_out = HOLD_OUT if held_out is None else held_out
    search_examples = SEARCH_EXAMPLES if search_examples is None else search_examples
    if not 0.0 <= held_out < 1.0:
        raise ConfigError(f"--held-out: must lie in [0, 1), got {held_out:g}")
    if search_examples < 1:
        raise ConfigError(f"--search-examples: must be at least 1, got {search_examples}")
    seeds = (seed, seed + 1)
    examples = _human_examples(human_dir, scribble_dirs, root, split)
    result = fit_style(
        examples,
        seeds=seeds,
        per_source=search_examples,
        held_out=held_out,
        jobs=jobs,
        report=lambda line: click.echo(f"  {line}"),
    )
    knobs = ", ".join(f"{k}={v}" for k, v in result.knobs().items()) or "no knob helped"
    click.echo(f"seeds {seeds[0]} {seeds[1]} ({TABLE_LEGEND})")
    tables = [("the examples fitted on", result.before, result.after)]
    if result.held_after:
        tables.append(("the examples held out from the search", result.held_before, result.held_after))
    for where, before, after in tables:
        click.echo(f"before (the paper's style), {where}:")
        click.echo(format_comparison(before))
        click.echo(f"after ({knobs}), {where}:")
        click.echo(format_comparison(after))
    low, high = CHAMFER_BAND
    for fitted, held in zip(result.after, result.held_after):
        ratios = (held.chamfer_ratio(), held.typical_chamfer_ratio())
        if any(not low <= r <= high for r in ratios if not math.isnan(r)):  # NaN: one annotator, no ratio
            click.echo(
                f"note: {held.source}: Chamfer ratio {ratios[0]:.2f} (typical {ratios[1]:.2f}) on held-out objects "
                f"({fitted.chamfer_ratio():.2f}, typical {fitted.typical_chamfer_ratio():.2f}, on those fitted on), "
                f"outside {low:g}-{high:g}: its seeds do not vary as its annotators do"
            )
    classes = {}
    if scribble_dirs and any(example.classes for example in examples):  # a build: classes known
        click.echo("styles per class, searched from the one above:")
        classes = fit_classes(
            examples,
            result.config,
            read_meta(human_dir)["classes"],
            seeds=seeds,
            per_source=search_examples,
            held_out=held_out,
            jobs=jobs,
        )
        for class_name, class_fit in classes.items():
            found = ", ".join(f"{k}={v}" for k, v in class_overrides(class_fit.config, result.config).items())
            held_line = (
                f", held out {score(class_fit.held_before):.3f} -> {score(class_fit.held_after):.3f}"
                if class_fit.held_after
                else ""
            )
            click.echo(
                f"  {class_name}: {found or 'the same'} "
                f"(score {score(class_fit.before):.3f} -> {score(class_fit.after):.3f}{held_line})"
            )
    background = fit_background(examples)
    found_background = ", ".join(f"{k}={v}" for k, v in background.items())
    click.echo(f"background: {found_background or 'the paper medial stroke'}")
    record = result.style_record(str(human_dir), seeds, held_out, classes, background)
    write_bytes_atomic(dest, json_bytes(record))
    click.echo(f"wrote {dest} ({result.evaluations} settings simulated)")


@click.command("degrade", cls=ListOptionsCommand, short_help="Scribble-shrink and scribble-drop a scribble set.")
@click.argument("out", type=_PATH)
@click.option("--seed", required=True, metavar="SEED", help="Scribble set to degrade.")
@click.option(
    "--shrink",
    type=float,
    default=None,
    help="Scribble-shrink ratio r in [0, 1]: keep the centred (1 - r) of each stroke.",
)
@click.option(
    "--drop",
    type=float,
    default=None,
    help="Scribble-drop ratio r in [0, 1]: remove each object's strokes with probability r.",
)
@click.option("--rng-seed", type=SEED, default=0, show_default=True, help="Seed of the drop decisions.")
@label_png_option
def degrade_command(
    out: Path, seed: str, shrink: float | None, drop: float | None, rng_seed: int, label_png: str | None
) -> None:
    """Write a degraded copy of a scribble set (e.g. {prefix}_scribble_r1_shrink0.5)."""
    from ..sets.degrade import degrade_set

    if shrink is None and drop is None:
        raise ConfigError("give --shrink, --drop or both")
    _ratio(shrink, "--shrink")
    _ratio(drop, "--drop")
    source = _open(out, seed)
    written = degrade_set(source, shrink=shrink, drop=drop, rng_seed=rng_seed, label_png=label_png)
    click.echo(f"{written.folder}: {len(written.names())} images; strokes in {written.strokes_path.name}")

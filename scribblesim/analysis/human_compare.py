"""Simulated scribbles next to human ones, on the same objects.

Each human example's objects are simulated with seeds (independent simulated annotators)
and both are measured (:mod:`.style_measures`). Per object and measure the humans span a
**band**: their min..max widened by half its span on each side, or, with one annotator,
their value plus or minus 25 %. A source scores the share of simulated values (objects x
seeds) inside their object's band, and the **Chamfer ratio**: the mean seed-to-seed
Chamfer distance over the mean annotator-to-annotator one (sources with two or more
annotators), with its **typical** value, the median over objects of the object's own
ratio (a mean ratio in 0.75-1.5 can rest on a few objects whose seeds differ widely while
on most objects they barely differ).

A band share means little without the humans' own. Where an object has two or more
annotators, each is left out in turn and its value judged against the band of the others
(:func:`held_out_bands`): the **held-out-human rate** is the share of those values inside,
and the simulated values are judged against the same bands. Their **ratio** (simulated
share over held-out-human share) is 1 for a simulator that is inside the humans' bands as
often as one more human; above 1 it sits nearer their middle than a human does.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..datasets.human import HumanExample, read_human_examples
from ..engine.config import SimConfig
from ..engine.simulate import simulate_seeds
from ..sets.files import json_bytes, write_bytes_atomic
from .figures import distributions_png
from .style_measures import MEASURES, ObjectFrame, StyleMeasures, chamfer_ratio, frame_measures, object_frames
from .summary import finite_median, finite_values, json_safe

#: Measures scored by band agreement (stroke counts and widths are reported, not banded).
BANDED = ("length", "depth", "rim", "share", "reach", "edge")
#: Relative half-width of the band of a single annotator's value.
SINGLE_ANNOTATOR_BAND = 0.25
DEFAULT_SEEDS = (1, 2, 3)


def human_band(values: Sequence[float]) -> tuple[float, float]:
    """The band of the humans' values of one object (see the module docstring)."""
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return math.nan, math.nan
    if len(values) == 1:
        return finite[0] * (1 - SINGLE_ANNOTATOR_BAND), finite[0] * (1 + SINGLE_ANNOTATOR_BAND)
    low, high = min(finite), max(finite)
    return low - (high - low) / 2, high + (high - low) / 2


def held_out_bands(values: Sequence[float]) -> list[tuple[float, float, float]]:
    """Each annotator's value with the band of the other annotators of its object: ``(value, low, high)``.

    The others' band is :func:`human_band` of their finite values (one other: its value
    plus or minus 25 %). An annotator whose others have no finite value gets no band; an
    object with fewer than two annotators gives none. A NaN value (the annotator drew
    nothing there) lies in no band, as a simulated one.

    Examples
    --------
    >>> held_out_bands([1.0, 2.0, 3.0])
    [(1.0, 1.5, 3.5), (2.0, 0.0, 4.0), (3.0, 0.5, 2.5)]
    """
    bands: list[tuple[float, float, float]] = []
    if len(values) < 2:
        return bands
    for k, value in enumerate(values):
        others = [v for j, v in enumerate(values) if j != k and not math.isnan(v)]
        if others:
            bands.append((value, *human_band(others)))
    return bands


def _share(flags: Sequence[bool]) -> float:
    return float(np.mean(flags)) if len(flags) else math.nan


@dataclass
class SourceComparison:
    """Human and simulated measures of one source's objects."""

    source: str
    annotators: int = 0
    human: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    simulated: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    inside: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    held_out_human: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    held_out_simulated: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    human_chamfer: list[float] = field(default_factory=list)
    seed_chamfer: list[float] = field(default_factory=list)
    #: Per object with both: its mean annotator-to-annotator and mean seed-to-seed Chamfer.
    object_chamfer: list[tuple[float, float]] = field(default_factory=list)
    objects: int = 0
    unstroked: int = 0
    #: Pixels labelled on the objects, summed over objects: the annotators' mean, the seeds' mean.
    human_labelled: float = 0.0
    simulated_labelled: float = 0.0
    #: ``reach`` x area summed over the objects that both the annotators and the seeds drew
    #: on (each side's mean), and those objects' area: the pooled reach.
    human_reach: float = 0.0
    simulated_reach: float = 0.0
    reach_area: float = 0.0

    def agreement(self, measure: str) -> float:
        """Share of simulated values of ``measure`` inside their object's human band."""
        return _share(self.inside.get(measure, []))

    def held_out_human_rate(self, measure: str) -> float:
        """Share of held-out annotators' values inside the other annotators' band; NaN with one annotator."""
        return _share(self.held_out_human.get(measure, []))

    def held_out_agreement(self, measure: str) -> float:
        """Share of simulated values inside the bands that judge the held-out annotators."""
        return _share(self.held_out_simulated.get(measure, []))

    def human_ratio(self, measure: str) -> float:
        """:meth:`held_out_agreement` over :meth:`held_out_human_rate`; NaN with one annotator or a rate of 0."""
        rate = self.held_out_human_rate(measure)
        return self.held_out_agreement(measure) / rate if rate > 0 else math.nan

    def labelled_ratio(self) -> float:
        """Pixels the seeds label on the objects over those the annotators label; NaN where they label none.

        Pooled over objects, so large objects weigh as much as the pixels a model learns
        from, unlike the per-object ``share``.
        """
        return self.simulated_labelled / self.human_labelled if self.human_labelled > 0 else math.nan

    def reach_ratio(self) -> float:
        """The seeds' pooled reach over the annotators' (NaN where no object has both).

        Pooled as the pixels are: a large object's far pixels weigh as much as the pixels
        a model must fill in from the labels, unlike the per-object ``reach``.
        """
        return self.simulated_reach / self.human_reach if self.human_reach > 0 else math.nan

    def across_gap(self) -> float:
        """Mean ``across`` of the seeds' scribbles less the annotators', over the annular objects
        (NaN without one both drew on): how far off the annotators' line across the rings the
        seeds trace, as a share of the rings' width."""
        human, seeds = finite_values(self.human["across"]), finite_values(self.simulated["across"])
        return float(seeds.mean() - human.mean()) if human.size and seeds.size else math.nan

    def chamfer_ratio(self) -> float:
        """Mean seed-to-seed over mean annotator-to-annotator Chamfer; NaN with one annotator."""
        human, seeds = finite_values(self.human_chamfer), finite_values(self.seed_chamfer)
        return float(np.mean(seeds) / np.mean(human)) if human.size and seeds.size else math.nan

    def typical_chamfer_ratio(self) -> float:
        """Median over objects of seed-to-seed over annotator-to-annotator Chamfer; NaN with one annotator.

        An object whose annotators drew alike (distance 0) counts as a ratio of 1 if its
        seeds drew alike too, else as infinite: a simulator that is one more annotator
        has a median of 1 however often scribbles coincide.
        """
        ratios = [
            seeds / human if human > 0 else (1.0 if seeds == 0 else math.inf) for human, seeds in self.object_chamfer
        ]
        return float(np.median(ratios)) if ratios else math.nan

    def to_dict(self) -> dict:
        """The JSON record: medians, agreements, held-out-human rates and ratios, the Chamfer ratios."""
        return {
            "source": self.source,
            "objects": self.objects,
            "annotators": self.annotators,
            "objects_without_stroke": self.unstroked,
            "measures": {
                m: {
                    "human_median": finite_median(self.human[m]),
                    "simulated_median": finite_median(self.simulated[m]),
                    **(
                        {
                            "inside_band": self.agreement(m),
                            "held_out_human": self.held_out_human_rate(m),
                            "held_out_simulated": self.held_out_agreement(m),
                            "ratio": self.human_ratio(m),
                        }
                        if m in BANDED
                        else {"inside_band": None}
                    ),
                }
                for m in MEASURES
            },
            "labelled_ratio": self.labelled_ratio(),
            "reach_ratio": self.reach_ratio(),
            "across_gap": self.across_gap(),
            "chamfer_ratio": self.chamfer_ratio(),
            "chamfer_ratio_typical": self.typical_chamfer_ratio(),
        }


def _mean_pixels(measures: Sequence[StyleMeasures]) -> float:
    """Mean over scribbles of the pixels each labels on its object (0 for none)."""
    return float(np.mean([0.0 if math.isnan(m.share) else m.share * m.area for m in measures])) if measures else 0.0


def _by_object(frames: list[ObjectFrame], labels: Sequence[int], scribbles: np.ndarray) -> dict[int, StyleMeasures]:
    return {f.index: frame_measures(f, labels[f.index], scribbles) for f in frames}


@dataclass(frozen=True)
class MeasuredExample:
    """A human example with its visible objects' frames, its annotators' measures and Chamfer distances."""

    example: HumanExample
    frames: list[ObjectFrame]
    humans: list[dict[int, StyleMeasures]]
    human_chamfer: dict[int, list[float]]


def measure_humans(example: HumanExample) -> MeasuredExample:
    """The human side of a comparison, which no simulation setting changes (so measured once)."""
    labels = example.object_ids
    frames = object_frames(example.masks, example.ignore)
    humans = [_by_object(frames, labels, s) for s in example.scribbles]
    chamfer = {
        f.index: [chamfer_ratio(f, labels[f.index], a, b) for a, b in itertools.combinations(example.scribbles, 2)]
        for f in frames
    }
    return MeasuredExample(example, frames, humans, chamfer)


def compare_example(
    measured: MeasuredExample, comparison: SourceComparison, config: SimConfig, seeds: Sequence[int]
) -> None:
    """Add one example's human and simulated measures to ``comparison``."""
    example, humans = measured.example, measured.humans
    masks, labels, ignore = example.masks, example.object_ids, example.ignore
    maps = simulate_seeds(
        masks, labels, seeds=seeds, image_id=f"{example.source}/{example.name}", config=config, ignore=ignore
    )
    simulated = [_by_object(measured.frames, labels, m.label_map) for m in maps]
    comparison.annotators = max(comparison.annotators, len(example.scribbles))
    for frame in measured.frames:
        index = frame.index
        comparison.objects += 1
        comparison.unstroked += sum(s[index].strokes == 0 for s in simulated)
        comparison.human_labelled += _mean_pixels([h[index] for h in humans])
        comparison.simulated_labelled += _mean_pixels([s[index] for s in simulated])
        human_reach = finite_values([h[index].reach for h in humans])
        seed_reach = finite_values([s[index].reach for s in simulated])
        if human_reach.size and seed_reach.size:
            area = frame.mask.sum()
            comparison.human_reach += float(human_reach.mean()) * area
            comparison.simulated_reach += float(seed_reach.mean()) * area
            comparison.reach_area += area
        for measure in MEASURES:
            values = [h[index].value(measure) for h in humans]
            comparison.human[measure] += values
            comparison.simulated[measure] += [s[index].value(measure) for s in simulated]
            if measure in BANDED:
                drawn = [s[index].value(measure) for s in simulated]
                low, high = human_band(values)
                comparison.inside[measure] += [bool(low <= v <= high) for v in drawn]
                for value, low, high in held_out_bands(values):
                    comparison.held_out_human[measure].append(bool(low <= value <= high))
                    comparison.held_out_simulated[measure] += [bool(low <= v <= high) for v in drawn]
        human_pairs = measured.human_chamfer.get(index, [])
        seed_pairs = [
            chamfer_ratio(frame, labels[index], a.label_map, b.label_map) for a, b in itertools.combinations(maps, 2)
        ]
        comparison.human_chamfer += human_pairs
        comparison.seed_chamfer += seed_pairs
        human_mean, seed_mean = finite_values(human_pairs), finite_values(seed_pairs)
        if human_mean.size and seed_mean.size:
            comparison.object_chamfer.append((float(human_mean.mean()), float(seed_mean.mean())))


def compare_with_humans(
    examples: Sequence[HumanExample | MeasuredExample],
    config: SimConfig | None = None,
    seeds: Sequence[int] = DEFAULT_SEEDS,
) -> list[SourceComparison]:
    """Per source, the human and simulated measures of every object (in source order).

    ``examples`` may be measured already (:func:`measure_humans`), as a search over
    settings does once.
    """
    config = config or SimConfig()
    by_source: dict[str, SourceComparison] = {}
    for item in examples:
        measured = item if isinstance(item, MeasuredExample) else measure_humans(item)
        comparison = by_source.setdefault(measured.example.source, SourceComparison(measured.example.source))
        compare_example(measured, comparison, config, seeds)
    return list(by_source.values())


#: What the columns of :func:`format_comparison` hold, for the line above the table.
TABLE_LEGEND = (
    "h: human median, s: simulated median, in: simulated values inside the human band, "
    "hh: held-out annotators inside the others' band, r: simulated share inside those bands / hh; "
    "labelled: pixels the seeds label on the objects / the annotators'; "
    "chamfer: seed-to-seed / annotator-to-annotator, mean and typical (median object)"
)


def _percent(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{100 * value:.0f} %"


def _fixed(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def format_comparison(comparisons: Sequence[SourceComparison]) -> str:
    """The before/after table (see :data:`TABLE_LEGEND`): per source and measure, medians and shares."""
    unbanded = [m for m in MEASURES if m not in BANDED]
    header = (
        f"{'source':<12} {'objects':>7}  "
        + "  ".join(f"{m + ' (h/s/in/hh/r)':>33}" for m in BANDED)
        + "".join(f"  {m + ' (h/s)':>13}" for m in unbanded)
        + f"  {'labelled':>8}  {'chamfer (mean/typical)':>22}"
    )
    lines = [header]
    for c in comparisons:
        cells = [
            f"{finite_median(c.human[m]):5.2f} {finite_median(c.simulated[m]):5.2f} {_percent(c.agreement(m)):>5} "
            f"{_percent(c.held_out_human_rate(m)):>5} {_fixed(c.human_ratio(m)):>4}"
            for m in BANDED
        ]
        medians = [f"{finite_median(c.human[m]):5.2f} {finite_median(c.simulated[m]):5.2f}" for m in unbanded]
        chamfer = f"{_fixed(c.chamfer_ratio())} / {_fixed(c.typical_chamfer_ratio())}"
        lines.append(
            f"{c.source:<12} {c.objects:>7}  "
            + "  ".join(f"{cell:>33}" for cell in cells)
            + "".join(f"  {cell:>13}" for cell in medians)
            + f"  {_fixed(c.labelled_ratio()):>8}  {chamfer:>22}"
        )
    return "\n".join(lines)


def compare_report(
    human_dir: Path,
    dest: Path,
    config: SimConfig | None = None,
    seeds: Sequence[int] = DEFAULT_SEEDS,
    examples: Sequence[HumanExample] | None = None,
) -> tuple[list[SourceComparison], list[Path]]:
    """Compare simulation with the humans of ``human_dir``; write the JSON and the figure into ``dest``.

    ``examples`` are its examples when they are read already (a build's, see
    :func:`~.objects.human_examples_from_build`); by default ``human_dir`` is read. Writes ``human_compare.json`` (per source: medians, band agreement, Chamfer ratio) and
    ``human_compare.png`` (per source and measure, both distributions), atomically.
    """
    comparisons = compare_with_humans(read_human_examples(human_dir) if examples is None else examples, config, seeds)
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    record = {
        "human": str(human_dir),
        "seeds": list(seeds),
        "config": (config or SimConfig()).to_dict(),
        "sources": [c.to_dict() for c in comparisons],
    }
    files = [dest / "human_compare.json", dest / "human_compare.png"]
    write_bytes_atomic(files[0], json_bytes(json_safe(record)))
    rows = [(c.source, {m: (c.human[m], c.simulated[m]) for m in MEASURES}) for c in comparisons]
    write_bytes_atomic(files[1], distributions_png(rows))
    return comparisons, files

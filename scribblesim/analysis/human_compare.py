"""Simulated scribbles next to human ones, on the same objects.

Each human example's objects are simulated with seeds (independent simulated annotators)
and both are measured (:mod:`.style_measures`). Per object and measure the humans span a
**band**: their min..max widened by half its span on each side, or, with one annotator,
their value plus or minus 25 %. A source scores the share of simulated values (objects x
seeds) inside their object's band, and the **Chamfer ratio**: the mean seed-to-seed
Chamfer distance over the mean annotator-to-annotator one (sources with two or more
annotators).
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
BANDED = ("length", "depth", "rim")
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


@dataclass
class SourceComparison:
    """Human and simulated measures of one source's objects."""

    source: str
    annotators: int = 0
    human: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    simulated: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    inside: dict[str, list[bool]] = field(default_factory=lambda: defaultdict(list))
    human_chamfer: list[float] = field(default_factory=list)
    seed_chamfer: list[float] = field(default_factory=list)
    objects: int = 0
    unstroked: int = 0

    def agreement(self, measure: str) -> float:
        """Share of simulated values of ``measure`` inside their object's human band."""
        scored = self.inside.get(measure, [])
        return float(np.mean(scored)) if scored else math.nan

    def chamfer_ratio(self) -> float:
        """Mean seed-to-seed over mean annotator-to-annotator Chamfer; NaN with one annotator."""
        human, seeds = finite_values(self.human_chamfer), finite_values(self.seed_chamfer)
        return float(np.mean(seeds) / np.mean(human)) if human.size and seeds.size else math.nan

    def to_dict(self) -> dict:
        """The JSON record: medians, agreements and the Chamfer ratio."""
        return {
            "source": self.source,
            "objects": self.objects,
            "annotators": self.annotators,
            "objects_without_stroke": self.unstroked,
            "measures": {
                m: {
                    "human_median": finite_median(self.human[m]),
                    "simulated_median": finite_median(self.simulated[m]),
                    "inside_band": self.agreement(m) if m in BANDED else None,
                }
                for m in MEASURES
            },
            "chamfer_ratio": self.chamfer_ratio(),
        }


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
        for measure in MEASURES:
            values = [h[index].value(measure) for h in humans]
            comparison.human[measure] += values
            comparison.simulated[measure] += [s[index].value(measure) for s in simulated]
            if measure in BANDED:
                low, high = human_band(values)
                comparison.inside[measure] += [bool(low <= s[index].value(measure) <= high) for s in simulated]
        comparison.human_chamfer += measured.human_chamfer.get(index, [])
        comparison.seed_chamfer += [
            chamfer_ratio(frame, labels[index], a.label_map, b.label_map) for a, b in itertools.combinations(maps, 2)
        ]


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


def format_comparison(comparisons: Sequence[SourceComparison]) -> str:
    """The before/after table: per source and measure, human and simulated medians, % inside the band."""
    unbanded = [m for m in MEASURES if m not in BANDED]
    header = (
        f"{'source':<12} {'objects':>7}  "
        + "  ".join(f"{m + ' (h/s/in)':>22}" for m in BANDED)
        + "".join(f"  {m + ' (h/s)':>13}" for m in unbanded)
        + f"  {'chamfer ratio':>13}"
    )
    lines = [header]
    for c in comparisons:
        cells = [
            f"{finite_median(c.human[m]):6.2f} {finite_median(c.simulated[m]):6.2f} {100 * c.agreement(m):5.0f} %"
            for m in BANDED
        ]
        medians = [f"{finite_median(c.human[m]):5.1f} {finite_median(c.simulated[m]):5.1f}" for m in unbanded]
        ratio = c.chamfer_ratio()
        lines.append(
            f"{c.source:<12} {c.objects:>7}  "
            + "  ".join(f"{cell:>22}" for cell in cells)
            + "".join(f"  {cell:>13}" for cell in medians)
            + f"  {'n/a' if math.isnan(ratio) else f'{ratio:.2f}':>13}"
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

"""How much of the human band any simulator can reach: the ceilings of `scribblesim fit`'s score.

A simulated value scores when it lies inside its object's human band (min..max of the
annotators widened by half its span; one annotator: plus or minus 25 %). Per source and
measure this prints three references that need no simulation:

- **one value**: the best share of bands that a single value falls in (a style that
  draws every object alike);
- **held-out human**: each annotator's value inside the band of the others (sources with
  three or more annotators, so that the others still span a band);
- **zero band**: objects whose band is exactly [0, 0] (every annotator at 0), which only
  an exact 0 meets;

and, for the annotator counts present, the share a new annotator drawn from the same
normal distribution as the others lands inside their band (a perfectly human-like
simulator's expected score).

    python benchmarks/human_bands.py ../shared/data/human-scribbles
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

from scribblesim.analysis.human_compare import BANDED, human_band, measure_humans
from scribblesim.datasets.human import read_human_examples


def human_values(folder: Path) -> dict[str, dict[str, list[list[float]]]]:
    """Per source and measure, each object's annotator values (NaN where one drew nothing on it)."""
    values: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    for example in read_human_examples(folder):
        measured = measure_humans(example)
        for frame in measured.frames:
            for measure in BANDED:
                values[example.source][measure].append([h[frame.index].value(measure) for h in measured.humans])
    return values


def one_value_share(bands: np.ndarray) -> float:
    """The largest share of ``bands`` (rows of low, high) that one value lies inside."""
    candidates = np.unique(bands.ravel())
    return max(float(np.mean((bands[:, 0] <= c) & (c <= bands[:, 1]))) for c in candidates)


def held_out_share(objects: list[list[float]]) -> float:
    """Share of annotator values inside the band of the other annotators of their object."""
    hits = []
    for values in objects:
        for k, value in enumerate(values):
            others = [v for j, v in enumerate(values) if j != k and not math.isnan(v)]
            if len(others) >= 2 and not math.isnan(value):
                low, high = human_band(others)
                hits.append(low <= value <= high)
    return float(np.mean(hits)) if hits else math.nan


def exchangeable_share(annotators: int, draws: int = 200_000) -> float:
    """Chance that one more draw of a normal variable lies inside the band of ``annotators`` (>= 2) draws."""
    sample = np.random.default_rng(0).normal(size=(draws, annotators + 1))
    humans = sample[:, :annotators]
    low, high = humans.min(axis=1), humans.max(axis=1)
    span = high - low
    return float(np.mean((sample[:, -1] >= low - span / 2) & (sample[:, -1] <= high + span / 2)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("human_dir", type=Path)
    args = parser.parse_args()
    values = human_values(args.human_dir)
    print(
        f"{'source':<12} {'measure':<7} {'objects':>7} {'annotators':>10} {'one value':>10} "
        f"{'held-out human':>15} {'zero band':>10}"
    )
    counts = set()
    for source, measures in values.items():
        for measure, objects in measures.items():
            bands = np.array([human_band(v) for v in objects])
            bands = bands[~np.isnan(bands[:, 0])]
            annotators = max(len(v) for v in objects)
            counts.add(annotators)
            held = held_out_share(objects)
            zero = float(np.mean((bands[:, 0] == 0) & (bands[:, 1] == 0)))
            print(
                f"{source:<12} {measure:<7} {len(bands):>7} {annotators:>10} {100 * one_value_share(bands):>8.0f} % "
                f"{'n/a' if math.isnan(held) else f'{100 * held:.0f} %':>15} {100 * zero:>8.0f} %"
            )
    print()
    for annotators in sorted(c for c in counts if c > 1):
        print(
            f"a new annotator like {annotators} others lands inside their band: "
            f"{100 * exchangeable_share(annotators):.1f} % (normal model)"
        )


if __name__ == "__main__":
    main()

"""Fit the style knobs of :class:`~scribblesim.SimConfig` to human scribbles.

The humans are measured once (:func:`~.human_compare.measure_humans`); then a coordinate
search tries each knob's values in turn, keeping the others, and keeps a value when it
raises the score: the mean share of simulated values inside their object's human band
over length, depth and rim (:mod:`.human_compare`), minus a penalty when the seed-to-seed
Chamfer distance leaves 0.75-1.5x the annotators' (sources with two or more of them).
Ties keep the value already held, so the search is deterministic for given seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..datasets.human import HumanExample
from ..engine.config import SimConfig
from .human_compare import BANDED, SourceComparison, compare_with_humans, measure_humans
from .summary import json_safe

#: ``format`` of a style file.
STYLE_FORMAT = "scribblesim-style-1"

#: The values tried for each knob, in search order; the first is the paper's style. A
#: tuple of names is searched as one knob: boundary loops need both a chance of boundary
#: style and an inset that small objects keep (either alone changes nothing on them).
KNOB_VALUES: Mapping[str | tuple[str, ...], tuple] = {
    "stroke_path": ("root-to-leaf", "leaf-to-leaf"),
    "stroke_extension": (0.0, 0.5, 1.0, 2.0),
    "stroke_length": (None, 0.85, 0.7, 0.55, 0.4, 0.25),
    "inset": (0.0, 0.1, 0.2, 0.3, 0.45, 0.6),
    "strokes_per_object": (1, 2, 3),
    "stroke_position": ("centred", "random"),
    "wobble_amplitude": (0.0, 0.2, 0.4, 0.7),
    "wobble_wavelength": (2.0, 1.0, 4.0),
    ("boundary_probability", "boundary_inset"): ((None, None), (1.0, 0.5), (1.0, 0.35), (1.0, 0.65), (0.5, 0.5)),
}

#: The seed-to-seed over annotator-to-annotator Chamfer ratio the humans' spread asks for.
CHAMFER_BAND = (0.75, 1.5)
SEARCH_PASSES = 2
#: The search simulates at most this many examples per source (evenly spread); the before
#: and after comparisons take them all.
SEARCH_EXAMPLES = 40


def _names(key: str | tuple[str, ...]) -> tuple[str, ...]:
    """The SimConfig fields a :data:`KNOB_VALUES` key sets."""
    return (key,) if isinstance(key, str) else key


def knob_names(knob_values: Mapping[str | tuple[str, ...], tuple] = KNOB_VALUES) -> list[str]:
    """Every SimConfig field that ``knob_values`` searches, in search order."""
    return [name for key in knob_values for name in _names(key)]


def score(comparisons: Sequence[SourceComparison]) -> float:
    """Mean band agreement over sources and banded measures, less the Chamfer penalty (higher is better)."""
    agreements = [c.agreement(m) for c in comparisons for m in BANDED]
    total = float(np.mean([0.0 if math.isnan(a) else a for a in agreements])) if agreements else 0.0
    for c in comparisons:
        ratio = c.chamfer_ratio()
        if not math.isnan(ratio):
            low, high = CHAMFER_BAND
            total -= max(0.0, low - ratio, ratio - high) / len(comparisons)
    return total


@dataclass(frozen=True)
class FitResult:
    """The fitted config, the comparisons before and after, and how many settings were simulated."""

    config: SimConfig
    before: list[SourceComparison]
    after: list[SourceComparison]
    evaluations: int

    def knobs(self) -> dict:
        """The knobs that differ from the paper's style."""
        default = SimConfig()
        return {name: getattr(self.config, name) for name in knob_names()
                if getattr(self.config, name) != getattr(default, name)}

    def style_record(self, fitted_on: str, seeds: Sequence[int]) -> dict:
        """The style file's JSON: the whole config (what ``SimConfig.from_file`` reads) and how it was fitted."""
        return json_safe({
            "format": STYLE_FORMAT, "fitted_on": fitted_on, "seeds": list(seeds), "knobs": self.knobs(),
            "score": {"before": score(self.before), "after": score(self.after)},
            "sources": {c.source: {"before": b.to_dict(), "after": c.to_dict()} for b, c in zip(self.before, self.after)},
            "config": self.config.to_dict(),
        })


def search_subset(examples: Sequence[HumanExample], per_source: int = SEARCH_EXAMPLES) -> list[HumanExample]:
    """At most ``per_source`` examples of each source, evenly spread over its examples."""
    by_source: dict[str, list[HumanExample]] = {}
    for example in examples:
        by_source.setdefault(example.source, []).append(example)
    chosen = []
    for items in by_source.values():
        picks = np.unique(np.linspace(0, len(items) - 1, min(per_source, len(items))).round().astype(int))
        chosen += [items[k] for k in picks]
    return chosen


def fit_style(examples: Sequence[HumanExample], *, seeds: Sequence[int] = (1, 2), base: SimConfig | None = None,
              knob_values: Mapping[str | tuple[str, ...], tuple] = KNOB_VALUES, passes: int = SEARCH_PASSES,
              per_source: int = SEARCH_EXAMPLES, report: Callable[[str], None] | None = None) -> FitResult:
    """Search the style knobs so that simulated scribbles on ``examples``' objects match the humans'.

    Parameters
    ----------
    examples : sequence of HumanExample
        Human scribbles with their ground truth (:func:`~scribblesim.datasets.human.read_human_examples`).
    seeds : sequence of int
        The simulated annotators of every evaluation.
    base : SimConfig, optional
        Where the search starts and what it leaves alone (default: the paper's style).
    knob_values : mapping of str (or tuple of str) to tuple
        The values tried per knob (default :data:`KNOB_VALUES`); a tuple of names takes
        tuples of values, one per name.
    passes : int
        Rounds over all knobs.
    per_source : int
        Examples per source that the search simulates (see :func:`search_subset`).
    report : callable, optional
        Called with one line per improvement.
    """
    measured = [measure_humans(e) for e in examples]
    searched = {id(e) for e in search_subset(examples, per_source)}
    subset = [m for m in measured if id(m.example) in searched]
    evaluations = 0

    def evaluate(config: SimConfig) -> float:
        nonlocal evaluations
        evaluations += 1
        return score(compare_with_humans(subset, config, seeds))

    config = base or SimConfig()
    before = compare_with_humans(measured, config, seeds)
    best = evaluate(config)
    for _ in range(passes):
        improved = False
        for key, values in knob_values.items():
            names = _names(key)
            for value in values:
                setting = dict(zip(names, (value,) if isinstance(key, str) else value))
                if all(getattr(config, name) == v for name, v in setting.items()):
                    continue
                candidate = replace(config, **setting)
                value_score = evaluate(candidate)
                if value_score > best + 1e-12:
                    config, best, improved = candidate, value_score, True
                    if report is not None:
                        shown = ", ".join(f"{name} = {v}" for name, v in setting.items())
                        report(f"{shown}: score {best:.3f}")
        if not improved:
            break
    after = compare_with_humans(measured, config, seeds)
    return FitResult(config, before, after, evaluations)

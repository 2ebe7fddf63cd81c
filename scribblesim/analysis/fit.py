"""Fit the style knobs of :class:`~scribblesim.SimConfig` to human scribbles.

The humans are measured once (:func:`~.human_compare.measure_humans`). The brush width
is set first, to the one of :data:`WIDTHS` whose simulated median width is nearest the
humans'. Then a beam search goes through the knobs in turn: it tries each value of a
knob on each setting it holds and keeps the :data:`BEAM_WIDTH` best by the score, the
mean share of simulated values inside their object's human band over length, depth and
rim (:mod:`.human_compare`), minus a penalty when the seed-to-seed Chamfer distance
leaves 0.75-1.5x the annotators' (sources with two or more of them). Ties keep the
setting already held, so the search is deterministic for given seeds.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import joblib
import numpy as np

from ..datasets.human import HumanExample
from ..engine.config import SimConfig
from .human_compare import BANDED, MeasuredExample, SourceComparison, compare_with_humans, measure_humans
from .style_measures import MEASURES
from .summary import finite_median, json_safe

#: ``format`` of a style file.
STYLE_FORMAT = "scribblesim-style-1"

#: The values tried for each knob, in search order; the first is the paper's style. A
#: tuple of names is searched as one knob: boundary loops need both a chance of boundary
#: style and an inset that small objects keep (either alone changes nothing on them).
KNOB_VALUES: Mapping[str | tuple[str, ...], tuple] = {
    ("boundary_probability", "boundary_inset"): ((None, None), (0.0, None), (1.0, 0.5), (1.0, 0.65), (0.5, 0.5)),
    "stroke_path": ("root-to-leaf", "leaf-to-leaf"),
    "stroke_extension": (0.0, 0.5, 1.0),
    "stroke_length": (None, 0.85, 0.7, 0.55),
    "inset": (0.0, 0.1, 0.2, 0.3),
    "strokes_per_object": (1, 2, 3),
    "stroke_position": ("centred", "random"),
    "wobble_amplitude": (0.0, 0.2, 0.4),
    "wobble_wavelength": (2.0, 1.0),
    ("zigzag_reach", "zigzag_wavelength"): ((0.0, 1.0), (0.5, 1.0), (0.7, 1.0), (0.7, 0.5)),
}

#: Brush widths tried before the search. Width is no band measure: the search starts
#: from the width whose simulated median is nearest the humans' median.
WIDTHS = (1, 2, 3, 4, 5, 6)

#: The seed-to-seed over annotator-to-annotator Chamfer ratio the humans' spread asks for.
CHAMFER_BAND = (0.75, 1.5)
#: Rounds over all knobs at most; a round that leaves the beam as it was ends the search.
SEARCH_ROUNDS = 3
#: Settings the search carries from knob to knob. Two let it reach pairs of knobs that
#: pay only together (a path between leaves varies the annotators enough for an inset to
#: pay, which alone makes them too alike).
BEAM_WIDTH = 2
#: The search simulates at most this many examples per source (evenly spread); the before
#: and after comparisons take them all.
SEARCH_EXAMPLES = 40


def _names(key: str | tuple[str, ...]) -> tuple[str, ...]:
    """The SimConfig fields a :data:`KNOB_VALUES` key sets."""
    return (key,) if isinstance(key, str) else key


def _shown(config: SimConfig) -> str:
    """The knobs of ``config`` that differ from the paper's style, as ``name = value``."""
    default = SimConfig()
    return (
        ", ".join(
            f"{name} = {getattr(config, name)}"
            for name in (*knob_names(), "width")
            if getattr(config, name) != getattr(default, name)
        )
        or "the paper's style"
    )


def knob_names(knob_values: Mapping[str | tuple[str, ...], tuple] = KNOB_VALUES) -> list[str]:
    """Every SimConfig field that ``knob_values`` searches, in search order."""
    return [name for key in knob_values for name in _names(key)]


def objects_only(config: SimConfig) -> SimConfig:
    """``config`` without background strokes when that leaves every object's scribble as it is.

    Clipped background strokes never touch an object and draw from their own random
    streams, so the search skips them: they take half of an evaluation's time.
    """
    return replace(config, background=False) if config.clip_to_mask else config


def _drawn(comparisons: Sequence[SourceComparison]) -> tuple:
    """Every simulated value of ``comparisons``, NaN as None (so equal draws compare equal)."""
    return tuple(
        None if math.isnan(v) else v
        for c in comparisons
        for values in (*(c.simulated[m] for m in MEASURES), c.seed_chamfer)
        for v in values
    )


def score(comparisons: Sequence[SourceComparison], chamfer_weight: float = 1.0) -> float:
    """Mean band agreement over sources and banded measures, less the Chamfer penalty (higher is better).

    The penalty is how far each source's Chamfer ratio lies outside :data:`CHAMFER_BAND`,
    times ``chamfer_weight``.
    """
    agreements = [c.agreement(m) for c in comparisons for m in BANDED]
    total = float(np.mean([0.0 if math.isnan(a) else a for a in agreements])) if agreements else 0.0
    for c in comparisons:
        ratio = c.chamfer_ratio()
        if not math.isnan(ratio):
            low, high = CHAMFER_BAND
            total -= chamfer_weight * max(0.0, low - ratio, ratio - high) / len(comparisons)
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
        return {
            name: getattr(self.config, name)
            for name in (*knob_names(), "width")
            if getattr(self.config, name) != getattr(default, name)
        }

    def style_record(self, fitted_on: str, seeds: Sequence[int]) -> dict:
        """The style file's JSON: the whole config (what ``SimConfig.from_file`` reads) and how it was fitted."""
        return json_safe(
            {
                "format": STYLE_FORMAT,
                "fitted_on": fitted_on,
                "seeds": list(seeds),
                "knobs": self.knobs(),
                "score": {"before": score(self.before), "after": score(self.after)},
                "sources": {
                    c.source: {"before": b.to_dict(), "after": c.to_dict()} for b, c in zip(self.before, self.after)
                },
                "config": self.config.to_dict(),
            }
        )


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


def fit_style(
    examples: Sequence[HumanExample],
    *,
    seeds: Sequence[int] = (1, 2),
    base: SimConfig | None = None,
    knob_values: Mapping[str | tuple[str, ...], tuple] = KNOB_VALUES,
    rounds: int = SEARCH_ROUNDS,
    beam_width: int = BEAM_WIDTH,
    per_source: int = SEARCH_EXAMPLES,
    jobs: int = 1,
    report: Callable[[str], None] | None = None,
) -> FitResult:
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
    rounds : int
        Rounds over all knobs at most.
    beam_width : int
        Settings carried from knob to knob (1: plain coordinate search).
    per_source : int
        Examples per source that the search simulates (see :func:`search_subset`).
    jobs : int
        Settings simulated at once, in forked worker processes (-1: all cores; one at a
        time where processes are not forked); the result is the same for any number.
    report : callable, optional
        Called with one line per improvement.
    """
    measured = [measure_humans(e) for e in examples]
    searched = {id(e) for e in search_subset(examples, per_source)}
    _SEARCHED[:] = [m for m in measured if id(m.example) in searched]  # forked workers inherit them
    scores: dict[SimConfig, float] = {}
    drawn: dict[SimConfig, tuple] = {}  # what each setting's simulated annotators measured
    widths: dict[SimConfig, float] = {}  # their median width

    def best_distinct(candidates: list[SimConfig]) -> list[SimConfig]:
        # Settings that draw the same scribbles (a knob that acts only with another) are
        # one: the first, held or the paper's value, stays.
        kept: dict[tuple, SimConfig] = {}
        for candidate in sorted(candidates, key=scores.__getitem__, reverse=True):
            kept.setdefault(drawn[candidate], candidate)
        return list(kept.values())[:beam_width]

    start = config = base or SimConfig()  # fitted knobs that change nothing go back to it
    # Workers see the examples only where they are forked (joblib runs one job in-process).
    backend = "multiprocessing" if multiprocessing.get_start_method() == "fork" else "sequential"
    try:
        with joblib.Parallel(n_jobs=jobs, backend=backend) as parallel:

            def evaluate(configs: list[SimConfig]) -> None:
                new = [c for c in dict.fromkeys(configs) if c not in scores]
                for setting, comparisons in zip(
                    new, parallel(joblib.delayed(_simulate_searched)(c, seeds) for c in new)
                ):
                    scores[setting], drawn[setting] = score(comparisons), _drawn(comparisons)
                    widths[setting] = finite_median([v for c in comparisons for v in c.simulated["width"]])

            before = compare_with_humans(measured, objects_only(config), seeds)
            human_width = finite_median([h[f.index].width for m in _SEARCHED for h in m.humans for f in m.frames])
            tried = [replace(config, width=w) for w in WIDTHS]
            evaluate([config, *tried])
            # nearest the humans' median; ties keep the width held
            config = min([config, *tried], key=lambda c: abs(widths[c] - human_width))
            beam, best = [config], scores[config]
            for _ in range(rounds):
                held_before = set(beam)
                for key, values in knob_values.items():
                    names = _names(key)
                    # the beam's own settings first, so that ties keep what is held
                    candidates = list(beam) + [
                        replace(held, **dict(zip(names, (v,) if isinstance(key, str) else v)))
                        for held in beam
                        for v in values
                    ]
                    evaluate(candidates)
                    beam = best_distinct(list(dict.fromkeys(candidates)))
                    if scores[beam[0]] > best + 1e-12:
                        best = scores[beam[0]]
                        if report is not None:
                            report(f"{_shown(beam[0])}: score {best:.3f}")
                if set(beam) == held_before:
                    break
            config = beam[0]
            for name in knob_names(knob_values):  # a knob held where it changes nothing goes back
                reset = replace(config, **{name: getattr(start, name)})
                evaluate([reset])
                if drawn[reset] == drawn[config]:
                    config = reset
    finally:
        _SEARCHED.clear()
    after = compare_with_humans(measured, objects_only(config), seeds)
    return FitResult(config, before, after, len(scores))


#: The examples that the running search simulates: module state so that forked workers
#: inherit them instead of receiving them with every setting.
_SEARCHED: list[MeasuredExample] = []


def _simulate_searched(config: SimConfig, seeds: Sequence[int]) -> list[SourceComparison]:
    return compare_with_humans(_SEARCHED, objects_only(config), seeds)

"""Fit the style knobs of :class:`~scribblesim.SimConfig` to human scribbles.

A share of each source's examples (:data:`HOLD_OUT`, evenly spread) is held out: the
search never simulates them, and the fit is measured on them as on the examples it was
fitted on, so that a style that matches the humans only where it was fitted shows.

The humans are measured once (:func:`~.human_compare.measure_humans`). The brush is
set first, to the one of :data:`BRUSHES` whose simulated median width is nearest the
humans'. Then a beam search goes through the knobs in turn: it tries each value of a
knob on each setting it holds and keeps the :data:`BEAM_WIDTH` best by the score
(:func:`score`): per source and banded measure (length, depth, rim, share, reach, edge), the
simulated-to-human ratio of :mod:`.human_compare` up to 1 (a simulator inside the humans'
bands as often as a held-out human scores fully), or, with one annotator, the share inside
the band; per source, how near its labelled pixels come to the humans' in all; minus a
penalty where the Chamfer ratio, mean or typical, leaves :data:`CHAMFER_BAND` (sources
with two or more annotators). The typical ratio keeps the seeds apart on most objects,
not only on a few. Ties keep the setting already held, so the search is deterministic
for given seeds. The search simulates a subset (:data:`SEARCH_EXAMPLES` per source), so on
all the examples fitted on its result competes with its brush alone and with the start,
and the best of them is kept.
"""

from __future__ import annotations

import math
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace

import joblib
import numpy as np

from ..datasets.human import HumanExample
from ..engine.config import CLASS_FIELDS, SimConfig
from ..engine.result import UNLABELLED
from ..parallel import worker_options
from .human_compare import BANDED, MeasuredExample, SourceComparison, compare_with_humans, measure_humans
from .style_measures import MEASURES, background_placement
from .summary import finite_median, finite_values, json_safe

#: ``format`` of a style file.
STYLE_FORMAT = "scribblesim-style-1"

#: The values tried for each knob, in search order; the first is the paper's style. A
#: tuple of names is searched as one knob: boundary loops need both a chance of boundary
#: style and an inset that small objects keep (either alone changes nothing on them), and a
#: spiral's start and end depths pay only together (a loop near the edge that curls inwards
#: keeps both the experts' depth and their length).
KNOB_VALUES: Mapping[str | tuple[str, ...], tuple] = {
    ("boundary_probability", "boundary_inset", "boundary_spiral"): (
        (None, None, 0.0),
        (0.0, None, 0.0),
        (1.0, 0.5, 0.0),
        (1.0, 0.65, 0.0),
        (0.5, 0.5, 0.0),
        (1.0, 0.4, 0.0),
        (1.0, 0.3, 0.0),
        *((1.0, inset, spiral) for inset in (0.3, 0.4, 0.5) for spiral in (0.4, 0.6, 0.8)),
    ),
    "stroke_path": ("root-to-leaf", "leaf-to-leaf", "chord"),
    "stroke_extension": (0.0, 0.5, 1.0),
    "stroke_length": (None, 0.85, 0.7, 0.55),
    "inset": (0.0, 0.1, 0.2, 0.3),
    "strokes_per_object": (1, 2, 3),
    "stroke_position": ("centred", "random"),
    "wobble_amplitude": (0.0, 0.2, 0.4),
    "wobble_wavelength": (2.0, 1.0),
    ("zigzag_reach", "zigzag_wavelength"): ((0.0, 1.0), (0.5, 1.0), (0.7, 1.0), (0.7, 0.5)),
}

#: Brushes tried before the search, as ``(width, line_connectivity)``. Width is no band
#: measure: the search starts from the brush whose simulated median width is nearest the
#: humans' median.
BRUSHES = ((1, 8), (1, 4), (2, 8), (3, 8), (4, 8), (5, 8), (6, 8))
#: Bezier control spacings (px) tried after the brush: Bezier smoothing cuts a curve towards
#: its inside, so on rings the line strokes run nearer the hole than a hand's. The search
#: starts from the spacing whose strokes run where the humans' do across the rings
#: (:meth:`~.human_compare.SourceComparison.across_gap` nearest 0; without rings, the held one).
SPACINGS = (6.0, 3.0, 2.0)
_BRUSH_FIELDS = ("width", "line_connectivity", "control_spacing")

#: The seed-to-seed over annotator-to-annotator Chamfer ratio the humans' spread asks for.
CHAMFER_BAND = (0.75, 1.5)
#: Relative distance from the annotators' count of labelled pixels at which
#: :func:`labelled_score` reaches 0: a model learns from pixels, so a style whose objects
#: each sit inside their bands but label a third fewer pixels in all trains differently.
#: The count is pooled, so on a few images a few large objects make it noisy (two
#: annotators of one style on three COCO images differ by a fifth); on ACDC's 1,510
#: slices it is not.
LABELLED_BAND = 0.3
#: Relative distance from the annotators' pooled reach at which :func:`reach_score` reaches
#: 0. The per-object bands judge each object's reach; the pooled term weighs them by area,
#: as the pixels a model fills in do: ScribbleACDC's MYO traced root-to-leaf (reach 0.92 of
#: the radius against the experts' 0.41) lost too little to the bands to be turned down.
REACH_BAND = 0.3
#: Distance of the seeds' mean ``across`` from the annotators' (a share of the rings' width) at
#: which :func:`across_score` reaches 0. Bezier smoothing cuts a ring's curve towards its hole
#: (ScribbleACDC's MYO: 0.42 against the experts' 0.49); the per-object band (±25 % of about
#: 0.5) is too wide to see it.
ACROSS_BAND = 0.1
#: Rounds over all knobs at most; a round that leaves the beam as it was ends the search.
SEARCH_ROUNDS = 3
#: Settings the search carries from knob to knob. Two let it reach pairs of knobs that
#: pay only together (a path between leaves varies the annotators enough for an inset to
#: pay, which alone makes them too alike).
BEAM_WIDTH = 2
#: The search simulates at most this many examples per source (evenly spread); the before
#: and after comparisons take them all.
SEARCH_EXAMPLES = 40
#: Share of each source's examples held out from the search (see :func:`hold_out`).
HOLD_OUT = 1 / 3


def _names(key: str | tuple[str, ...]) -> tuple[str, ...]:
    """The SimConfig fields a :data:`KNOB_VALUES` key sets."""
    return (key,) if isinstance(key, str) else key


def _shown(config: SimConfig) -> str:
    """The knobs of ``config`` that differ from the paper's style, as ``name = value``."""
    default = SimConfig()
    return (
        ", ".join(
            f"{name} = {getattr(config, name)}"
            for name in (*knob_names(), *_BRUSH_FIELDS)
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


def measure_score(comparison: SourceComparison, measure: str) -> float:
    """A source's score on one banded measure, in [0, 1]: the simulated-to-human ratio up to 1.

    Where there is no ratio (one annotator, or no held-out annotator inside the others'
    band, as GrabCut's two on length) it is the share inside the band; NaN counts as 0.
    """
    ratio = comparison.human_ratio(measure)
    value = comparison.agreement(measure) if math.isnan(ratio) else min(ratio, 1.0)
    return 0.0 if math.isnan(value) else value


def chamfer_penalty(comparison: SourceComparison) -> float:
    """How far the mean and the typical Chamfer ratio lie outside :data:`CHAMFER_BAND`, summed (0 inside)."""
    low, high = CHAMFER_BAND
    return sum(
        max(0.0, low - ratio, ratio - high)
        for ratio in (comparison.chamfer_ratio(), comparison.typical_chamfer_ratio())
        if not math.isnan(ratio)
    )


def labelled_score(comparison: SourceComparison) -> float:
    """How near the seeds' labelled pixels come to the annotators', in [0, 1] (NaN where they label none).

    1 at the same count, falling linearly to 0 at :data:`LABELLED_BAND` (relative) away.
    """
    ratio = comparison.labelled_ratio()
    return ratio if math.isnan(ratio) else max(0.0, 1.0 - abs(ratio - 1.0) / LABELLED_BAND)


def reach_score(comparison: SourceComparison) -> float:
    """How near the seeds' pooled reach comes to the annotators', in [0, 1] (NaN where none compares).

    1 at the same reach, falling linearly to 0 at :data:`REACH_BAND` (relative) away.
    """
    ratio = comparison.reach_ratio()
    return ratio if math.isnan(ratio) else max(0.0, 1.0 - abs(ratio - 1.0) / REACH_BAND)


def _ring_miss(comparison: SourceComparison) -> float:
    """How far off the humans' line across the rings the seeds trace: 0 without rings, inf if they draw on none."""
    gap = comparison.across_gap()
    if math.isnan(gap):
        return math.inf if finite_values(comparison.human["across"]).size else 0.0
    return abs(gap)


def across_score(comparison: SourceComparison) -> float:
    """How near the seeds trace the annotators' line across the rings, in [0, 1] (NaN without rings).

    1 at the same mean ``across``, falling linearly to 0 at :data:`ACROSS_BAND` away.
    """
    gap = comparison.across_gap()
    return gap if math.isnan(gap) else max(0.0, 1.0 - abs(gap) / ACROSS_BAND)


def score(comparisons: Sequence[SourceComparison], chamfer_weight: float = 1.0) -> float:
    """Mean of :func:`measure_score` over sources and banded measures and of each source's
    :func:`labelled_score`, :func:`reach_score` and :func:`across_score` (where it has rings), less the Chamfer
    penalty (higher is better).

    The penalty is each source's :func:`chamfer_penalty` times ``chamfer_weight``,
    averaged over the sources.
    """
    terms = [measure_score(c, m) for c in comparisons for m in BANDED]
    pooled = (labelled_score, reach_score, across_score)
    terms += [value for c in comparisons for term in pooled if not math.isnan(value := term(c))]
    total = float(np.mean(terms)) if terms else 0.0
    if comparisons:
        total -= chamfer_weight * sum(chamfer_penalty(c) for c in comparisons) / len(comparisons)
    return total


def hold_out(
    examples: Sequence[HumanExample], share: float = HOLD_OUT
) -> tuple[list[HumanExample], list[HumanExample]]:
    """Each source's examples split into those fitted on and those held out from the search.

    Of a source's ``n`` examples, ``round(share * n)`` (at most ``n - 1``) are held out,
    evenly spread: the ``k``-th of ``m`` is example ``floor((k + 1/2) n / m)``, so with a
    third every third example from the second on. Both lists keep the examples' order.

    Raises
    ------
    ValueError
        If ``share`` is not in [0, 1).
    """
    if not 0.0 <= share < 1.0:
        raise ValueError(f"held-out share must lie in [0, 1), got {share:g}")
    by_source: dict[str, list[int]] = {}
    for position, example in enumerate(examples):
        by_source.setdefault(example.source, []).append(position)
    held: set[int] = set()
    for positions in by_source.values():
        n = len(positions)
        count = min(round(share * n), n - 1)
        held |= {positions[math.floor((k + 0.5) * n / count)] for k in range(count)}
    return (
        [e for position, e in enumerate(examples) if position not in held],
        [e for position, e in enumerate(examples) if position in held],
    )


@dataclass(frozen=True)
class FitResult:
    """The fitted config, the comparisons before and after, and how many settings were simulated.

    ``before`` and ``after`` compare the examples fitted on, ``held_before`` and
    ``held_after`` those held out from the search (empty lists where none were).
    """

    config: SimConfig
    before: list[SourceComparison]
    after: list[SourceComparison]
    evaluations: int
    held_before: list[SourceComparison] = field(default_factory=list)
    held_after: list[SourceComparison] = field(default_factory=list)

    def knobs(self) -> dict:
        """The knobs that differ from the paper's style."""
        default = SimConfig()
        return {
            name: getattr(self.config, name)
            for name in (*knob_names(), *_BRUSH_FIELDS)
            if getattr(self.config, name) != getattr(default, name)
        }

    def style_record(
        self,
        fitted_on: str,
        seeds: Sequence[int],
        held_out_share: float = HOLD_OUT,
        classes: Mapping[str, FitResult] | None = None,
        background: Mapping | None = None,
    ) -> dict:
        """The style file's JSON: the whole config (what ``SimConfig.from_file`` reads) and how it was fitted.

        Per source: the comparisons before and after on the examples fitted on, and under
        ``held_out`` on those held out (absent for a source with none). ``classes`` (from
        :func:`fit_classes`) adds each class's own fields where they differ from this
        config, with their scores under ``class_fits``; ``background`` (from
        :func:`fit_background`) the background's.
        """
        sections: dict = {}
        if classes:
            sections["classes"] = {
                name: overrides
                for name, fitted in classes.items()
                if (overrides := class_overrides(fitted.config, self.config))
            }
            sections["class_fits"] = {
                name: {
                    "knobs": class_overrides(fitted.config, self.config),
                    "score": {"before": score(fitted.before), "after": score(fitted.after)},
                    "held_out": {"before": score(fitted.held_before), "after": score(fitted.held_after)}
                    if fitted.held_after
                    else None,
                }
                for name, fitted in classes.items()
            }
        if background:
            sections["background"] = dict(background)
        sources = {c.source: {"before": b.to_dict(), "after": c.to_dict()} for b, c in zip(self.before, self.after)}
        for b, c in zip(self.held_before, self.held_after):
            sources.setdefault(c.source, {})["held_out"] = {"before": b.to_dict(), "after": c.to_dict()}
        held = {"before": score(self.held_before), "after": score(self.held_after)} if self.held_after else None
        return json_safe(
            {
                "format": STYLE_FORMAT,
                "fitted_on": fitted_on,
                "seeds": list(seeds),
                "held_out_share": held_out_share,
                "knobs": self.knobs(),
                "score": {"before": score(self.before), "after": score(self.after), "held_out": held},
                "sources": sources,
                "config": self.config.to_dict(),
                **sections,
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
    held_out: float = HOLD_OUT,
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
        Examples per source that the search simulates (see :func:`search_subset`), of
        those not held out.
    held_out : float
        Share of each source's examples held out from the search (see :func:`hold_out`).
    jobs : int
        Settings simulated at once, in forked worker processes (-1: all cores; one at a
        time where processes are not forked); the result is the same for any number.
    report : callable, optional
        Called with one line per improvement.
    """
    fitted, unseen = hold_out(examples, held_out)
    measured = [measure_humans(e) for e in fitted]
    searched = {id(e) for e in search_subset(fitted, per_source)}
    _SEARCHED[:] = [m for m in measured if id(m.example) in searched]  # forked workers inherit them
    scores: dict[SimConfig, float] = {}
    drawn: dict[SimConfig, tuple] = {}  # what each setting's simulated annotators measured
    widths: dict[SimConfig, float] = {}  # their median width
    gaps: dict[SimConfig, float] = {}  # their across gap, summed over sources

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
        with (
            joblib.parallel_config(backend=backend, n_jobs=jobs, **worker_options(backend)),
            joblib.Parallel() as parallel,
        ):

            def evaluate(configs: list[SimConfig]) -> None:
                new = [c for c in dict.fromkeys(configs) if c not in scores]
                for setting, comparisons in zip(
                    new, parallel(joblib.delayed(_simulate_searched)(c, seeds) for c in new)
                ):
                    scores[setting], drawn[setting] = score(comparisons), _drawn(comparisons)
                    widths[setting] = finite_median([v for c in comparisons for v in c.simulated["width"]])
                    gaps[setting] = sum(_ring_miss(c) for c in comparisons)

            before = compare_with_humans(measured, objects_only(config), seeds)
            human_width = finite_median([h[f.index].width for m in _SEARCHED for h in m.humans for f in m.frames])
            tried = [replace(config, width=width, line_connectivity=lines) for width, lines in BRUSHES]
            evaluate([config, *tried])
            # nearest the humans' median; ties keep the width held
            config = min([config, *tried], key=lambda c: abs(widths[c] - human_width))
            if any(finite_values(c.human["across"]).size for c in before):  # the humans drew on rings
                smoothed = [replace(config, control_spacing=spacing) for spacing in SPACINGS]
                evaluate(smoothed)
                # nearest the humans' line across the rings; ties keep the spacing held
                config = min([config, *smoothed], key=lambda c: gaps[c])
            brushed = config
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
    # The search scored a subset: on every example fitted on, its result must beat its
    # brush alone and the start (ties keep the result).
    finalists = {start: before}
    for candidate in (brushed, config):
        if candidate not in finalists:
            finalists[candidate] = compare_with_humans(measured, objects_only(candidate), seeds)
    config = max(reversed(finalists), key=lambda c: score(finalists[c]))
    after = finalists[config]
    unseen_measured = [measure_humans(e) for e in unseen]
    unseen_before, unseen_after = (
        compare_with_humans(unseen_measured, objects_only(c), seeds) for c in (start, config)
    )
    return FitResult(config, before, after, len(scores), unseen_before, unseen_after)


#: The examples that the running search simulates: module state so that forked workers
#: inherit them instead of receiving them with every setting.
_SEARCHED: list[MeasuredExample] = []


def _simulate_searched(config: SimConfig, seeds: Sequence[int]) -> list[SourceComparison]:
    return compare_with_humans(_SEARCHED, objects_only(config), seeds)


#: The humans' background strokes are drawn ``"around"`` the objects when their median
#: distance to them is below this many equivalent radii and they reach at least
#: :data:`AROUND_SECTORS` of the sectors around them; else the paper's medial stroke.
AROUND_DISTANCE = 1.0
AROUND_SECTORS = 0.75


def fit_background(examples: Sequence[HumanExample]) -> dict:
    """The background fields that place background strokes where the humans' sit (empty: the paper's).

    Per example and annotator, :func:`~.style_measures.background_placement` of the human
    background scribble; the medians decide: humans who circle the objects closely get
    ``background_placement="around"`` at their median distance as ``background_margin``.
    """
    placements = [
        placement
        for example in examples
        for scribble in example.scribbles
        if (placement := background_placement(scribble == 0, (example.truth != 0) & (example.truth != UNLABELLED)))
        is not None
    ]
    if not placements:
        return {}
    distance = float(np.median([d for d, _ in placements]))
    around = float(np.median([a for _, a in placements]))
    if distance < AROUND_DISTANCE and around >= AROUND_SECTORS:
        return {"background_placement": "around", "background_margin": round(max(distance, 0.05), 2)}
    return {}


def fit_classes(
    examples: Sequence[HumanExample], base: SimConfig, class_names: Sequence[str], **options
) -> dict[str, FitResult]:
    """A style per class: :func:`fit_style` on each class's objects alone, from ``base`` (the style
    fitted on every class). ``options`` go to :func:`fit_style`; examples without classes are left out.
    """
    labels = sorted({label for example in examples for label in example.classes})
    fitted = {}
    for label in labels:
        of_class = [example.of_class(label) for example in examples if label in example.classes]
        name = class_names[label] if label < len(class_names) else str(label)
        fitted[name] = fit_style(of_class, base=base, **options)
    return fitted


def class_overrides(fitted: SimConfig, base: SimConfig) -> dict:
    """The fields of a class's fitted style that differ from ``base``: its entry in a style file's ``classes``."""
    return {
        name: getattr(fitted, name) for name in sorted(CLASS_FIELDS) if getattr(fitted, name) != getattr(base, name)
    }

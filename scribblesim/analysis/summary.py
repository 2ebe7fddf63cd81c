"""Summaries of per-object statistics, the comparison of two sets' distributions, and the tables.

Distribution distances (:func:`distribution_distances`): 1-D Wasserstein distance and
Kolmogorov-Smirnov statistic per statistic, and the total-variation distance between the
Fig. 18 histograms (:func:`heatmap_counts`).
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Sequence

import numpy as np
from scipy import stats as scipy_stats

from .metrics import Agreement, ObjectStats

#: Default Fig. 18 bin edges (%): object area ratio (x) and scribble ratio (y).
AREA_EDGES = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
SCRIBBLE_EDGES = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)
#: Bins of the pooled boundary-distance histogram over [0, 1].
DISTANCE_BINS = 10
#: Per-object statistics compared between sets.
COMPARED = ("area_ratio", "scribble_ratio", "length_ratio", "dist_mean")


def heatmap_counts(
    area_ratios: Sequence[float],
    scribble_ratios: Sequence[float],
    area_edges: Sequence[float] = AREA_EDGES,
    scribble_edges: Sequence[float] = SCRIBBLE_EDGES,
) -> np.ndarray:
    """Fig. 18 histogram: object counts, shape (scribble bins, area bins); ratios in [0, 1], edges in %.

    Bins are half-open ``[lo, hi)`` except the last, which includes its upper edge.
    """
    counts, _, _ = np.histogram2d(
        np.asarray(scribble_ratios, dtype=float) * 100.0,
        np.asarray(area_ratios, dtype=float) * 100.0,
        bins=[np.asarray(scribble_edges, float), np.asarray(area_edges, float)],
    )
    return counts.astype(np.int64)


def total_variation(counts_a: np.ndarray, counts_b: np.ndarray) -> float:
    """Total-variation distance between two histograms as distributions (0 = same, 1 = disjoint)."""
    p = counts_a / max(counts_a.sum(), 1)
    q = counts_b / max(counts_b.sum(), 1)
    return float(np.abs(p - q).sum() / 2.0)


def distribution_distances(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> dict[str, float]:
    """1-D Wasserstein distance and Kolmogorov-Smirnov statistic of two samples (NaNs dropped)."""
    first, second = finite_values(a), finite_values(b)
    if first.size == 0 or second.size == 0:
        return {"wasserstein": math.nan, "ks": math.nan}
    return {
        "wasserstein": float(scipy_stats.wasserstein_distance(first, second)),
        "ks": float(scipy_stats.ks_2samp(first, second).statistic),
    }


def finite_values(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """``values`` as a float array without NaN and infinities."""
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def finite_median(values: Sequence[float] | np.ndarray) -> float:
    """Median of the finite ``values``; NaN if there are none."""
    finite = finite_values(values)
    return float(np.median(finite)) if finite.size else math.nan


def _describe(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    finite = finite_values(values)
    if finite.size == 0:
        return {"mean": math.nan, "median": math.nan, "n": 0}
    return {"mean": float(finite.mean()), "median": float(np.median(finite)), "n": int(finite.size)}


def summarize(
    stats: Sequence[ObjectStats],
    area_edges: Sequence[float] = AREA_EDGES,
    scribble_edges: Sequence[float] = SCRIBBLE_EDGES,
) -> dict:
    """Summary of per-object statistics: means/medians, styles, pooled distances, Fig. 18 counts."""
    rows = [s.row() for s in stats]
    pooled = np.concatenate([s.boundary_distances for s in stats]) if stats else np.zeros(0)
    histogram, edges = np.histogram(pooled, bins=DISTANCE_BINS, range=(0.0, 1.0))
    return {
        "objects": len(rows),
        "scribbled_objects": sum(r["scribble_pixels"] > 0 for r in rows),
        "styles": dict(sorted(Counter(r["style"] for r in rows).items())),
        **{key: _describe([r[key] for r in rows]) for key in (*COMPARED, "foreign_pixels")},
        "boundary_distance": {
            "pixels": int(pooled.size),
            **_describe(pooled),
            "edges": edges.tolist(),
            "fraction": (histogram / max(pooled.size, 1)).tolist(),
        },
        "heatmap": {
            "area_edges_percent": list(area_edges),
            "scribble_edges_percent": list(scribble_edges),
            "counts": heatmap_counts(
                [r["area_ratio"] for r in rows], [r["scribble_ratio"] for r in rows], area_edges, scribble_edges
            ).tolist(),
        },
    }


def compare_summary(
    a: Sequence[ObjectStats],
    b: Sequence[ObjectStats],
    agreements: Sequence[Agreement],
    area_edges: Sequence[float] = AREA_EDGES,
    scribble_edges: Sequence[float] = SCRIBBLE_EDGES,
) -> dict:
    """Agreement and distribution distances of two sets over the same objects."""
    rows_a, rows_b = [s.row() for s in a], [s.row() for s in b]
    pooled = [np.concatenate([s.boundary_distances for s in x]) if x else np.zeros(0) for x in (a, b)]
    counts = [
        heatmap_counts([r["area_ratio"] for r in rows], [r["scribble_ratio"] for r in rows], area_edges, scribble_edges)
        for rows in (rows_a, rows_b)
    ]
    return {
        "objects": len(agreements),
        "scribbled_in_both": sum(g.pixels_a > 0 and g.pixels_b > 0 for g in agreements),
        "scribbled_in_one": sum((g.pixels_a > 0) != (g.pixels_b > 0) for g in agreements),
        "chamfer_over_sqrt_area": _describe([g.chamfer for g in agreements]),
        "dilated_iou": _describe([g.iou for g in agreements]),
        "distribution_distances": {
            **{key: distribution_distances([r[key] for r in rows_a], [r[key] for r in rows_b]) for key in COMPARED[1:]},
            "boundary_distance_pixels": distribution_distances(*pooled),
            "heatmap_total_variation": total_variation(*counts),
        },
    }


def _cell(value) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    return str(value)


def csv_bytes(rows: Sequence[dict]) -> bytes:
    """CSV of flat records (NaN as an empty cell)."""
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: _cell(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue().encode()


def json_safe(value):
    """``value`` with NaN and infinite floats as None (JSON has neither), in nested dicts and lists."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value

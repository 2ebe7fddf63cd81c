"""Degraded scribble sets: scribble-shrink and scribble-drop (as in URSS), seeded.

- **shrink r** keeps the centred part of every stroke's polyline, of arc length
  ``(1 - r) L`` (``r = 1`` leaves its midpoint).
- **drop r** removes all strokes of each object with probability ``r``. Strokes with an
  ``instance`` are grouped by it; a non-background stroke without one (imported human
  scribbles) is its own object; background strokes are never dropped. The decision for an
  object comes from its own generator ``default_rng([rng_seed, image, 3, kind, index])``,
  so it does not depend on the order of images or objects.

The label map follows the strokes pixel by pixel. Every labelled pixel belongs to the
nearest stroke of its own label (distance to the polyline; ties go to the earlier
stroke) at arc-length position ``t``, its projection on that polyline. A pixel is kept
when its stroke is kept and ``t`` lies within half a pixel of the kept arc
``[r L / 2, L - r L / 2]``; if that leaves a kept stroke no pixel, its pixels nearest to
the arc's midpoint stay. A degraded map therefore only ever loses pixels, and shrink 0
with drop 0 gives back the input exactly (``t`` always lies in ``[0, L]``). Images
without a stroke record get strokes recovered from their pixels
(:func:`scribblesim.engine.vectorise.vectorise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.ops import substring

from ..engine.result import BACKGROUND, Skip, unlabelled_value
from ..engine.seeding import image_key
from ..engine.vectorise import vectorise
from ..errors import ConfigError
from .layout import stroke_record
from .scribble_set import ScribbleSet, label_png_mode, write_set

#: Stream tag of scribble-drop decisions (simulation streams use 0..2).
DROP_STREAM = 3
#: Pixels whose arc position is this close to the kept arc stay.
ARC_TOLERANCE = 0.5


def _geometry(points: np.ndarray):
    unique = np.unique(np.asarray(points, dtype=float), axis=0)
    if len(unique) < 2:
        return shapely.Point(np.asarray(points, dtype=float)[0])
    return shapely.LineString(points)


def stroke_length(points: np.ndarray) -> float:
    """Arc length of a polyline of (x, y) points."""
    points = np.asarray(points, dtype=float)
    return float(np.sum(np.hypot(*np.diff(points, axis=0).T))) if len(points) > 1 else 0.0


def kept_arc(length: float, ratio: float) -> tuple[float, float]:
    """Arc-length interval ``[r L / 2, L - r L / 2]`` that scribble-shrink ``ratio`` keeps."""
    return ratio * length / 2.0, length - ratio * length / 2.0


def shrink_points(points: np.ndarray, ratio: float) -> np.ndarray:
    """The centred part of a polyline of arc length ``(1 - ratio) L``; one point for ratio 1."""
    points = np.asarray(points, dtype=float)
    if ratio == 0 or len(points) < 2:
        return points
    line = _geometry(points)
    if isinstance(line, shapely.Point):
        return points[:1]
    start, end = kept_arc(line.length, ratio)
    if end - start <= 1e-9:
        return np.array(line.interpolate(start).coords, dtype=float)
    return np.array(substring(line, start, end).coords, dtype=float)


@dataclass
class PixelOwners:
    """Which stroke each labelled pixel belongs to, and where along it.

    Attributes
    ----------
    rows, cols : ndarray of int
        Labelled pixels (row-major order).
    owner : ndarray of int
        Index of the owning stroke, -1 where no stroke carries the pixel's label.
    position : ndarray of float
        Arc-length position of the pixel's projection on its stroke.
    """

    rows: np.ndarray
    cols: np.ndarray
    owner: np.ndarray
    position: np.ndarray


def _segments(points: Sequence[np.ndarray], strokes: np.ndarray) -> tuple[np.ndarray, ...]:
    """Segments (start, end, stroke index, arc length at start) of the given strokes."""
    starts, ends, owners, offsets = [], [], [], []
    for k in strokes.tolist():
        line = np.asarray(points[k], dtype=float).reshape(-1, 2)
        keep = np.ones(len(line), dtype=bool)
        keep[1:] = np.any(line[1:] != line[:-1], axis=1)
        line = line[keep]
        if len(line) == 1:
            line = np.repeat(line, 2, axis=0)
        steps = np.hypot(*np.diff(line, axis=0).T)
        starts.append(line[:-1])
        ends.append(line[1:])
        owners.append(np.full(len(steps), k))
        offsets.append(np.concatenate([[0.0], np.cumsum(steps)[:-1]]))
    return np.concatenate(starts), np.concatenate(ends), np.concatenate(owners), np.concatenate(offsets)


def assign_pixels(
    label_map: np.ndarray, points: Sequence[np.ndarray], labels: Sequence[int] | np.ndarray
) -> PixelOwners:
    """Give every labelled pixel to the nearest stroke of its own label (see the module docstring)."""
    rows, cols = np.nonzero(label_map != unlabelled_value(label_map.dtype))
    values = label_map[rows, cols]
    owner = np.full(rows.size, -1, dtype=np.int64)
    position = np.zeros(rows.size, dtype=float)
    labels = np.asarray(labels, dtype=np.int64)
    for label in np.unique(values):
        candidates = np.flatnonzero(labels == label)
        if candidates.size == 0:
            continue
        here = np.flatnonzero(values == label)
        xy = np.stack([cols[here], rows[here]], axis=1).astype(float)
        a, b, stroke, offset = _segments(points, candidates)
        degenerate = np.all(a == b, axis=1)
        shapes = np.where(degenerate, shapely.points(a), shapely.linestrings(np.stack([a, b], axis=1)))
        hits, _ = shapely.STRtree(shapes).query_nearest(shapely.points(xy), all_matches=True, return_distance=True)
        # Ties: the earlier stroke, then its earlier segment.
        order = np.lexsort((hits[1], stroke[hits[1]], hits[0]))
        first = order[np.r_[True, hits[0][order][1:] != hits[0][order][:-1]]]
        pixel, segment = hits[0][first], hits[1][first]
        direction = b[segment] - a[segment]
        span = np.einsum("ij,ij->i", direction, direction)
        along = np.einsum("ij,ij->i", xy[pixel] - a[segment], direction) / np.where(span > 0, span, 1.0)
        owner[here[pixel]] = stroke[segment]
        position[here[pixel]] = offset[segment] + np.clip(along, 0.0, 1.0) * np.sqrt(span)
    return PixelOwners(rows, cols, owner, position)


def _object_key(stroke: dict, index: int) -> tuple[int, int] | None:
    """(kind, index) identifying the stroke's object for scribble-drop; None for background."""
    if stroke.get("instance") is not None:
        return (0, int(stroke["instance"]))
    if int(stroke["label"]) == BACKGROUND:
        return None
    return (1, index)


def drop_decisions(strokes: Sequence[dict], image: str, ratio: float, rng_seed: int) -> list[bool]:
    """Whether each stroke is dropped: one Bernoulli(``ratio``) draw per object."""
    decided: dict[tuple[int, int], bool] = {}
    dropped = []
    for index, stroke in enumerate(strokes):
        key = _object_key(stroke, index)
        if key is None or ratio == 0:
            dropped.append(False)
            continue
        if key not in decided:
            rng = np.random.default_rng([int(rng_seed), image_key(image), DROP_STREAM, *key])
            decided[key] = bool(rng.random() < ratio)
        dropped.append(decided[key])
    return dropped


def degrade_map(
    label_map: np.ndarray,
    strokes: Sequence[dict],
    *,
    shrink: float = 0.0,
    dropped: Sequence[bool] | None = None,
) -> np.ndarray:
    """The label map left when strokes are shrunk by ``shrink`` and ``dropped`` ones removed."""
    dropped = list(dropped) if dropped is not None else [False] * len(strokes)
    points = [np.asarray(s["points"], dtype=float) for s in strokes]
    owners = assign_pixels(label_map, points, [int(s["label"]) for s in strokes])
    keep = owners.owner < 0
    for k, stroke_points in enumerate(points):
        mine = np.flatnonzero(owners.owner == k)
        if dropped[k] or mine.size == 0:
            continue
        start, end = kept_arc(stroke_length(stroke_points), shrink)
        t = owners.position[mine]
        inside = (t >= start - ARC_TOLERANCE) & (t <= end + ARC_TOLERANCE)
        if not inside.any():
            gap = np.abs(t - (start + end) / 2.0)
            inside = gap <= gap.min() + 1e-9
        keep[mine[inside]] = True
    out = np.full_like(label_map, unlabelled_value(label_map.dtype))
    out[owners.rows[keep], owners.cols[keep]] = label_map[owners.rows[keep], owners.cols[keep]]
    return out


def degrade_record(
    name: str,
    label_map: np.ndarray,
    record: dict | None,
    *,
    shrink: float = 0.0,
    drop: float = 0.0,
    rng_seed: int = 0,
    source: str = "",
) -> tuple[np.ndarray, dict]:
    """Degrade one image's scribbles.

    Parameters
    ----------
    name : str
        Image id (keys the drop decisions).
    label_map : ndarray of uint8 or uint16, shape (H, W)
    record : dict or None
        The image's stroke record; ``None`` recovers strokes from ``label_map``.
    shrink, drop : float in [0, 1]
    rng_seed : int
    source : str
        Tag of the source set, recorded in the output record.

    Returns
    -------
    label_map, record
    """
    _check_ratio(shrink, "shrink")
    _check_ratio(drop, "drop")
    if record is None:
        record = stroke_record(name, vectorise(label_map))
    strokes = record["strokes"]
    dropped = drop_decisions(strokes, name, drop, rng_seed)
    degraded = degrade_map(label_map, strokes, shrink=shrink, dropped=dropped)
    kept = [
        {
            **s,
            "points": np.round(shrink_points(np.asarray(s["points"], float), shrink), 2).tolist()
            if shrink
            else s["points"],
        }
        for s, gone in zip(strokes, dropped)
        if not gone
    ]
    skipped = list(record.get("skipped", []))
    for index, (stroke, gone) in enumerate(zip(strokes, dropped)):
        if gone:
            what = f"instance {stroke['instance']}" if stroke.get("instance") is not None else f"stroke {index}"
            skipped.append(Skip.of(stroke.get("instance"), "dropped", f" ({what}, scribble-drop {drop:g})").to_dict())
    extra = {k: v for k, v in record.items() if k not in ("image", "strokes", "skipped")}
    extra["degrade"] = {"source": source, "shrink": shrink, "drop": drop, "rng_seed": int(rng_seed)}
    return degraded, stroke_record(name, kept, skipped, **extra)


def _check_ratio(value: float, name: str) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must lie in [0, 1], got {value}")


def degraded_tag(tag: str, shrink: float | None, drop: float | None, rng_seed: int = 0) -> str:
    """Tag of a degraded set, e.g. ``1_shrink0.5``, ``1_drop0.3``, ``1_shrink0.5_drop0.3_rs7``."""
    parts = [str(tag)]
    if shrink is not None:
        parts.append(f"shrink{shrink:g}")
    if drop is not None:
        parts.append(f"drop{drop:g}")
        if rng_seed:
            parts.append(f"rs{rng_seed}")
    return "_".join(parts)


def degrade_set(
    source: ScribbleSet,
    *,
    shrink: float | None = None,
    drop: float | None = None,
    rng_seed: int = 0,
    names: Sequence[str] | None = None,
    label_png: str | None = None,
) -> ScribbleSet:
    """Write the degraded copy of a scribble set next to it (tag from :func:`degraded_tag`).

    Label PNGs take the mode the output already holds (``meta.json``); ``label_png``, if
    given, must agree with it.

    Returns
    -------
    ScribbleSet
        The new set: ``{prefix}_scribble_r{tag}`` and ``strokes_r{tag}.jsonl``.
    """
    _check_ratio(shrink or 0.0, "shrink")
    _check_ratio(drop or 0.0, "drop")
    mode = label_png_mode(source.out, label_png)
    records = source.records()
    names = source.names() if names is None else list(names)
    tag = degraded_tag(source.tag, shrink, drop, rng_seed)

    def items():
        for name in names:
            label_map, record = degrade_record(
                name,
                source.label_map(name),
                records.get(name),
                shrink=shrink or 0.0,
                drop=drop or 0.0,
                rng_seed=rng_seed,
                source=source.tag,
            )
            yield name, label_map, record

    written = write_set(source.out, source.prefix, tag, items(), label_png=mode)
    return ScribbleSet(written.out, written.prefix, written.tag, source.classes)

"""``scribblesim stats OUT``: measure a scribble set of a build output, compare it, write the report.

Each image's objects come from :mod:`scribblesim.analysis.objects`, its statistics from
:mod:`scribblesim.analysis.metrics`. An object's style is the style of the strokes that
own most of its scribble pixels (nearest-stroke ownership,
:func:`scribblesim.sets.degrade.assign_pixels`), ``none`` without scribble pixels,
``unknown`` without stroke records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..errors import DatasetError
from ..sets.files import json_bytes, write_bytes_atomic
from ..sets.scribble_set import ScribbleSet
from .figures import heatmap_png
from .metrics import ObjectStats, agreement, object_stats, visible_owner
from .objects import ImageObjects, object_source
from .summary import AREA_EDGES, SCRIBBLE_EDGES, compare_summary, csv_bytes, json_safe, summarize


def object_styles(owner: np.ndarray, classes: np.ndarray, scribbles: np.ndarray, record: dict | None) -> list[str]:
    """Majority style of the strokes owning each object's scribble pixels (see the module docstring)."""
    from ..sets.degrade import assign_pixels

    if record is None:
        return ["unknown"] * len(classes)
    strokes = record.get("strokes", [])
    owners = assign_pixels(
        scribbles, [np.asarray(s["points"], float) for s in strokes], [int(s["label"]) for s in strokes]
    )
    styles = np.array([s.get("style", "unknown") for s in strokes] + ["unknown"], dtype=object)
    objects = owner[owners.rows, owners.cols]
    same = (objects >= 0) & (scribbles[owners.rows, owners.cols] == np.asarray(classes)[np.maximum(objects, 0)])
    found = ["none"] * len(classes)
    for index in np.unique(objects[same]):
        votes = Counter(styles[owners.owner[same & (objects == index)]].tolist())
        found[int(index)] = sorted(votes.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
    return found


def measure_image(objects: ImageObjects, scribbles: np.ndarray, record: dict | None) -> list[ObjectStats]:
    """Statistics of one image of a scribble set, with styles from its stroke record."""
    if scribbles.shape != objects.ignore.shape:
        raise DatasetError(f"scribble size {scribbles.shape} differs from the objects' {objects.ignore.shape}")
    if len(objects.classes) == 0:
        return []
    owner = visible_owner(objects.masks, objects.ignore)
    styles = object_styles(owner, objects.classes, scribbles, record)
    return object_stats(objects.masks, objects.classes, scribbles, ignore=objects.ignore, styles=styles)


def _table(name: str, stats: Sequence[ObjectStats], class_names: Sequence[str]) -> list[dict]:
    rows = []
    for s in stats:
        row = s.row()
        label = row.pop("label")
        rows.append(
            {
                "image": name,
                "object": row.pop("object"),
                "label": label,
                "class": class_names[label] if label < len(class_names) else str(label),
                **row,
            }
        )
    return rows


@dataclass
class StatsReport:
    """What :func:`stats_report` wrote and its summary."""

    files: list[Path]
    summary: dict


def stats_report(
    scribbles: ScribbleSet,
    dest: Path,
    *,
    compare: ScribbleSet | None = None,
    root: Path | None = None,
    split: str | None = None,
    radius: int = 3,
    area_edges: Sequence[float] = AREA_EDGES,
    scribble_edges: Sequence[float] = SCRIBBLE_EDGES,
) -> StatsReport:
    """Measure a scribble set of a build output (and compare it with another) into ``dest``.

    Writes ``objects.csv``, ``summary.json`` and ``fig18_heatmap.png``; with ``compare``
    also ``objects_compare.csv``, ``agreement.csv`` and ``fig18_heatmap_compare.png``
    (both sets side by side). Objects come from :func:`object_source`; images missing
    from the compared set are left out of the comparison and counted in the summary.
    """
    source = object_source(scribbles.out, root, split)
    names = scribbles.names()
    records = scribbles.records()
    other_names = set(compare.names()) if compare else set()
    other_records = compare.records() if compare else {}
    classes = list(scribbles.classes)
    table, table_b, agree_rows = [], [], []
    stats_a, stats_common, stats_b, agreements = [], [], [], []

    def read(chosen: ScribbleSet, name: str, shape: tuple[int, ...]) -> np.ndarray:
        label_map = chosen.label_map(name)
        if label_map.shape != shape:
            raise DatasetError(f"{chosen.folder / name}.png: size {label_map.shape} differs from the objects' {shape}")
        return label_map

    for name in names:
        objects = source(name)
        label_map = read(scribbles, name, objects.ignore.shape)
        found = measure_image(objects, label_map, records.get(name))
        stats_a += found
        table += _table(name, found, classes)
        if compare and name in other_names:
            label_b = read(compare, name, objects.ignore.shape)
            found_b = measure_image(objects, label_b, other_records.get(name))
            stats_b += found_b
            stats_common += found
            table_b += _table(name, found_b, classes)
            compared = (
                agreement(objects.masks, objects.classes, label_map, label_b, ignore=objects.ignore, radius=radius)
                if len(objects.classes)
                else []
            )
            agreements += compared
            agree_rows += [{"image": name, **asdict(g)} for g in compared]
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    summary = {
        "set": str(scribbles.folder),
        "objects_from": source.kind,
        "images": len(names),
        **summarize(stats_a, area_edges, scribble_edges),
    }
    files = [dest / "objects.csv", dest / "fig18_heatmap.png", dest / "summary.json"]
    write_bytes_atomic(files[0], csv_bytes(table))
    counts = np.array(summary["heatmap"]["counts"])
    write_bytes_atomic(files[1], heatmap_png([(f"seed {scribbles.tag}", counts)], area_edges, scribble_edges))
    if compare:
        summary["compare"] = {
            "set": str(compare.folder),
            "images": len(set(names) & other_names),
            "images_missing": sorted(set(names) - other_names),
            "summary": summarize(stats_b, area_edges, scribble_edges),
            **compare_summary(stats_common, stats_b, agreements, area_edges, scribble_edges),
        }
        counts_b = np.array(summary["compare"]["summary"]["heatmap"]["counts"])
        extra = [dest / "objects_compare.csv", dest / "agreement.csv", dest / "fig18_heatmap_compare.png"]
        write_bytes_atomic(extra[0], csv_bytes(table_b))
        write_bytes_atomic(extra[1], csv_bytes(agree_rows))
        panels = [
            (f"{scribbles.out.name} seed {scribbles.tag}", counts),
            (f"{compare.out.name} seed {compare.tag}", counts_b),
        ]
        write_bytes_atomic(extra[2], heatmap_png(panels, area_edges, scribble_edges))
        files[2:2] = extra
    write_bytes_atomic(dest / "summary.json", json_bytes(json_safe(summary)))
    return StatsReport(files, summary)

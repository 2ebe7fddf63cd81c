"""Per-object scribble statistics, agreement between two annotation sets, and Fig. 18.

Statistics (any source: :func:`object_stats` takes instance masks, classes and a scribble
label map, so human scribbles are measured exactly like simulated ones). Objects are the
*visible* parts of the masks: where masks overlap the later one owns the pixel (as in
:func:`scribblesim.semantic_map`), and ``ignore`` pixels belong to no object.

- **area ratio**: object pixels / image pixels.
- **scribble ratio**: pixels on the object labelled with its class / object pixels.
  Scribble pixels of another label on the object are counted apart (``foreign_pixels``).
- **stroke length**: length of the skeleton of the object's scribble pixels (1 per
  orthogonal, sqrt(2) per diagonal step; see :func:`scribblesim.engine.vectorise.skeleton_length`),
  so raster-only human scribbles are measured the same way; ``length_ratio`` divides it
  by sqrt(object area).
- **boundary distance**: for each scribble pixel, its Euclidean distance to the nearest
  pixel outside the object (the image border counts as outside), divided by the object's
  largest inscribed radius (the maximum of that distance over the object): 1 on the
  medial axis' deepest point, about 1/radius on the boundary.
- **style**: the style of the strokes that own most of the object's scribble pixels
  (nearest-stroke ownership, :func:`scribblesim.sets.degrade.assign_pixels`), ``none`` without
  scribble pixels, ``unknown`` without stroke records.

Agreement of two sets on the same objects (:func:`agreement`): the symmetric Chamfer
distance (mean of the two directed mean nearest-pixel distances) between the two
scribbles on the object divided by sqrt(area), and the IoU of the two scribbles dilated
by a disk of ``radius`` pixels, within the object. Distribution distances
(:func:`distribution_distances`): 1-D Wasserstein distance and Kolmogorov-Smirnov
statistic per statistic, and the total-variation distance between the Fig. 18 histograms.

Objects of a build output (``scribblesim stats OUT``) come, in order of preference, from

1. the dataset itself, re-read with the adapter named by ``meta.json``'s ``dataset``
   (coco, voc, cityscapes) from ``--root``/``--split`` or from ``meta.json``'s
   ``"source": {"root": ..., "split": ...}`` (a root relative to the output folder): true
   instances, exactly those the simulation saw;
2. otherwise the connected components (8-connected) of each class in the dense ground
   truth ``SegmentationClassAug`` (255 = ignore). Touching objects of one class then
   count as one object, so this is an approximation, recorded as ``"objects":
   "components"`` in the summary.

The build output alone cannot give instances back (the dense ground truth merges them),
which is why the dataset is re-read when it can be.
"""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage
from scipy import stats as scipy_stats
from skimage.morphology import disk, skeletonize

from ..datasets.base import DatasetError
from ..engine.inputs import as_class_ids, as_mask_stack
from ..engine.result import UNLABELLED
from ..engine.simulate import owner_map
from ..engine.vectorise import skeleton_length
from ..sets.files import json_bytes, write_bytes_atomic
from ..sets.layout import Layout, read_meta, split_list_name
from ..sets.scribble_set import ScribbleSet, read_label_map

#: Default Fig. 18 bin edges (%): object area ratio (x) and scribble ratio (y).
AREA_EDGES = (0.0, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0)
SCRIBBLE_EDGES = (0.0, 1.0, 2.0, 3.0, 5.0, 10.0, 20.0, 50.0, 100.0)
#: Bins of the pooled boundary-distance histogram over [0, 1].
DISTANCE_BINS = 10
#: Per-object statistics compared between sets.
COMPARED = ("area_ratio", "scribble_ratio", "length_ratio", "dist_mean")

_EIGHT = np.ones((3, 3), dtype=bool)


# ---------------------------------------------------------------------------------------
# Pure statistics
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ObjectStats:
    """Statistics of one object's scribble (see the module docstring)."""

    object: int
    label: int
    area: int
    area_ratio: float
    scribble_pixels: int
    scribble_ratio: float
    foreign_pixels: int
    stroke_length: float
    length_ratio: float
    inscribed_radius: float
    boundary_distances: np.ndarray
    style: str = "unknown"

    def row(self) -> dict:
        """Flat record for tables: the distances summarised as mean and median."""
        record = {k: v for k, v in asdict(self).items() if k != "boundary_distances"}
        distances = self.boundary_distances
        record["dist_mean"] = float(distances.mean()) if distances.size else math.nan
        record["dist_median"] = float(np.median(distances)) if distances.size else math.nan
        return record


def visible_owner(masks: np.ndarray | Sequence[np.ndarray], ignore: np.ndarray | None = None) -> np.ndarray:
    """Index of the object owning each pixel (later masks win), -1 for none or ignored."""
    owner = owner_map(as_mask_stack(masks))
    if ignore is not None:
        owner[np.asarray(ignore, dtype=bool)] = -1
    return owner


def _box(mask: np.ndarray) -> tuple[slice, slice]:
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def boundary_distance(mask: np.ndarray) -> np.ndarray:
    """Distance of each mask pixel to the nearest pixel outside it (outside the array counts)."""
    return ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]


def one_object(mask: np.ndarray, label: int, scribbles: np.ndarray, image_pixels: int, index: int = 0,
               style: str = "unknown") -> ObjectStats:
    """Statistics of one (visible) object mask against a scribble label map of the same size."""
    box = _box(mask)
    mask, scribbles = mask[box], scribbles[box]
    area = int(mask.sum())
    on = mask & (scribbles == label)
    foreign = mask & (scribbles != UNLABELLED) & (scribbles != label)
    depth = boundary_distance(mask)
    radius = float(depth.max())
    length = skeleton_length(skeletonize(on)) if on.any() else 0.0
    return ObjectStats(
        object=index, label=int(label), area=area, area_ratio=area / image_pixels,
        scribble_pixels=int(on.sum()), scribble_ratio=float(on.sum()) / area,
        foreign_pixels=int(foreign.sum()), stroke_length=length, length_ratio=length / math.sqrt(area),
        inscribed_radius=radius, boundary_distances=depth[on] / radius, style=style,
    )


def object_stats(
    masks: np.ndarray | Sequence[np.ndarray], classes: Sequence[int] | np.ndarray, scribbles: np.ndarray, *,
    ignore: np.ndarray | None = None, styles: Sequence[str] | None = None,
) -> list[ObjectStats]:
    """Per-object statistics of a scribble label map.

    Parameters
    ----------
    masks : (N, H, W) bool array or sequence of (H, W) bool arrays
        Instance masks; where they overlap the later one owns the pixel.
    classes : sequence of int
        Class id (1..254) of each mask.
    scribbles : ndarray of uint8, shape (H, W)
        255 unlabelled, 0 background, k class k.
    ignore : (H, W) bool array, optional
        Pixels that belong to no object.
    styles : sequence of str, optional
        Style of each object's scribble (default ``"unknown"``).

    Returns
    -------
    list of ObjectStats
        One per object with at least one visible pixel, in mask order.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((10, 10), bool); mask[2:7, 1:9] = True
    >>> scribbles = np.full((10, 10), 255, np.uint8); scribbles[4, 2:8] = 3
    >>> s = object_stats([mask], [3], scribbles)[0]
    >>> s.area_ratio, s.scribble_ratio, s.stroke_length
    (0.4, 0.15, 5.0)
    """
    stack = as_mask_stack(masks)
    ids = as_class_ids(classes, len(stack))
    scribbles = np.asarray(scribbles)
    if scribbles.shape != stack.shape[1:]:
        raise ValueError(f"scribbles must have the image shape {stack.shape[1:]}, got {scribbles.shape}")
    owner = visible_owner(stack, ignore)
    pixels = owner.size
    found = []
    for index in range(len(stack)):
        visible = owner == index
        if visible.any():
            style = styles[index] if styles is not None else "unknown"
            found.append(one_object(visible, int(ids[index]), scribbles, pixels, index, style))
    return found


def directed_mean_distance(source: np.ndarray, target: np.ndarray) -> float:
    """Mean distance from each ``source`` pixel to the nearest ``target`` pixel."""
    return float(ndimage.distance_transform_edt(~target)[source].mean())


def chamfer_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Symmetric Chamfer distance of two pixel sets (mean of both directed means); NaN if one is empty."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if not a.any() or not b.any():
        return math.nan
    return (directed_mean_distance(a, b) + directed_mean_distance(b, a)) / 2.0


def dilated_iou(a: np.ndarray, b: np.ndarray, radius: int, within: np.ndarray | None = None) -> float:
    """IoU of two pixel sets dilated by a disk of ``radius`` (0: none), restricted to ``within``; NaN if both empty."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if radius > 0:
        footprint = disk(radius).astype(bool)
        a, b = ndimage.binary_dilation(a, footprint), ndimage.binary_dilation(b, footprint)
    if within is not None:
        a, b = a & within, b & within
    union = int((a | b).sum())
    return int((a & b).sum()) / union if union else math.nan


@dataclass(frozen=True)
class Agreement:
    """How two scribble sets agree on one object."""

    object: int
    label: int
    area: int
    pixels_a: int
    pixels_b: int
    chamfer: float  # symmetric Chamfer distance / sqrt(area); NaN if either scribble is empty
    iou: float  # IoU of the dilated scribbles within the object; NaN if both are empty


def agreement(
    masks: np.ndarray | Sequence[np.ndarray], classes: Sequence[int] | np.ndarray, scribbles_a: np.ndarray,
    scribbles_b: np.ndarray, *, ignore: np.ndarray | None = None, radius: int = 3,
) -> list[Agreement]:
    """Per-object agreement of two scribble label maps of the same image.

    Parameters
    ----------
    masks, classes, ignore
        As for :func:`object_stats`.
    scribbles_a, scribbles_b : ndarray of uint8, shape (H, W)
    radius : int
        Dilation radius (pixels) before the IoU.

    Returns
    -------
    list of Agreement
        One per object with at least one visible pixel.
    """
    stack = as_mask_stack(masks)
    ids = as_class_ids(classes, len(stack))
    for name, scribbles in (("scribbles_a", scribbles_a), ("scribbles_b", scribbles_b)):
        if np.shape(scribbles) != stack.shape[1:]:
            raise ValueError(f"{name} must have the image shape {stack.shape[1:]}, got {np.shape(scribbles)}")
    owner = visible_owner(stack, ignore)
    found = []
    for index in range(len(stack)):
        visible = owner == index
        if not visible.any():
            continue
        box = _box(visible)
        pad = ((radius, radius), (radius, radius))
        mask = np.pad(visible[box], pad)
        label = int(ids[index])
        a = mask & (np.pad(scribbles_a[box], pad, constant_values=UNLABELLED) == label)
        b = mask & (np.pad(scribbles_b[box], pad, constant_values=UNLABELLED) == label)
        area = int(visible.sum())
        found.append(Agreement(
            index, label, area, int(a.sum()), int(b.sum()),
            chamfer_distance(a, b) / math.sqrt(area), dilated_iou(a, b, radius, mask),
        ))
    return found


def heatmap_counts(
    area_ratios: Sequence[float], scribble_ratios: Sequence[float],
    area_edges: Sequence[float] = AREA_EDGES, scribble_edges: Sequence[float] = SCRIBBLE_EDGES,
) -> np.ndarray:
    """Fig. 18 histogram: object counts, shape (scribble bins, area bins); ratios in [0, 1], edges in %.

    Bins are half-open ``[lo, hi)`` except the last, which includes its upper edge.
    """
    counts, _, _ = np.histogram2d(
        np.asarray(scribble_ratios, dtype=float) * 100.0, np.asarray(area_ratios, dtype=float) * 100.0,
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
    first, second = _finite(a), _finite(b)
    if first.size == 0 or second.size == 0:
        return {"wasserstein": math.nan, "ks": math.nan}
    return {
        "wasserstein": float(scipy_stats.wasserstein_distance(first, second)),
        "ks": float(scipy_stats.ks_2samp(first, second).statistic),
    }


def _finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array[np.isfinite(array)]


def _describe(values: Sequence[float] | np.ndarray) -> dict[str, float]:
    finite = _finite(values)
    if finite.size == 0:
        return {"mean": math.nan, "median": math.nan, "n": 0}
    return {"mean": float(finite.mean()), "median": float(np.median(finite)), "n": int(finite.size)}


def summarize(stats: Sequence[ObjectStats], area_edges: Sequence[float] = AREA_EDGES,
              scribble_edges: Sequence[float] = SCRIBBLE_EDGES) -> dict:
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
            "counts": heatmap_counts([r["area_ratio"] for r in rows], [r["scribble_ratio"] for r in rows],
                                     area_edges, scribble_edges).tolist(),
        },
    }


def compare_summary(a: Sequence[ObjectStats], b: Sequence[ObjectStats], agreements: Sequence[Agreement],
                    area_edges: Sequence[float] = AREA_EDGES, scribble_edges: Sequence[float] = SCRIBBLE_EDGES) -> dict:
    """Agreement and distribution distances of two sets over the same objects."""
    rows_a, rows_b = [s.row() for s in a], [s.row() for s in b]
    pooled = [np.concatenate([s.boundary_distances for s in x]) if x else np.zeros(0) for x in (a, b)]
    counts = [heatmap_counts([r["area_ratio"] for r in rows], [r["scribble_ratio"] for r in rows], area_edges, scribble_edges)
              for rows in (rows_a, rows_b)]
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


# ---------------------------------------------------------------------------------------
# Fig. 18
# ---------------------------------------------------------------------------------------


def _edge_label(value: float) -> str:
    return f"{value:g}"


def heatmap_png(panels: Sequence[tuple[str, np.ndarray]], area_edges: Sequence[float] = AREA_EDGES,
                scribble_edges: Sequence[float] = SCRIBBLE_EDGES) -> bytes:
    """Fig. 18: one heatmap per (title, counts) panel, colour and numbers = % of objects; PNG bytes."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5.6 * len(panels), 4.8), dpi=120, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    percents = [100.0 * c / max(c.sum(), 1) for _, c in panels]
    top = max(max((float(p.max()) for p in percents), default=0.0), 1e-9)
    colours = matplotlib.colormaps["YlOrRd"].with_extremes(bad="white")
    for ax, (title, counts), percent in zip(axes, panels, percents):
        shown = np.where(counts > 0, percent, np.nan)  # empty cells stay white
        image = ax.imshow(shown, origin="lower", cmap=colours, vmin=0.0, vmax=top, aspect="auto",
                          extent=(0, percent.shape[1], 0, percent.shape[0]))
        for (row, col), value in np.ndenumerate(percent):
            if counts[row, col]:
                ax.text(col + 0.5, row + 0.5, f"{value:.1f}", ha="center", va="center", fontsize=7,
                        color="white" if value > 0.6 * top else "black")
        ax.set_xticks(range(len(area_edges)), [_edge_label(e) for e in area_edges], fontsize=8)
        ax.set_yticks(range(len(scribble_edges)), [_edge_label(e) for e in scribble_edges], fontsize=8)
        ax.set_xlabel("mask ratio (%)")
        ax.set_ylabel("scribble ratio (%)")
        ax.set_title(f"{title} (n = {int(counts.sum())} objects)", fontsize=10)
        figure.colorbar(image, ax=ax, label="objects (%)")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------
# Build outputs
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImageObjects:
    """The objects of one image: masks (N, H, W), classes (N,), ignore (H, W)."""

    masks: np.ndarray
    classes: np.ndarray
    ignore: np.ndarray


def components_as_objects(semantic: np.ndarray) -> ImageObjects:
    """Objects of a dense ground truth: 8-connected components of each class 1..254; 255 = ignore."""
    masks, classes = [], []
    for label in np.unique(semantic):
        if label in (0, UNLABELLED):
            continue
        pieces, count = ndimage.label(semantic == label, structure=_EIGHT)
        for piece in range(1, count + 1):
            masks.append(pieces == piece)
            classes.append(int(label))
    stack = np.stack(masks) if masks else np.zeros((0, *semantic.shape), dtype=bool)
    return ImageObjects(stack, np.array(classes, dtype=np.int64), semantic == UNLABELLED)


class ComponentObjects:
    """Objects from ``OUT/SegmentationClassAug`` (connected components of each class)."""

    kind = "components"

    def __init__(self, out: Path):
        self.folder = Layout(out).ground_truth_dir
        if not self.folder.is_dir():
            raise DatasetError(f"{self.folder}: dense ground truth folder not found")

    def __call__(self, name: str) -> ImageObjects:
        return components_as_objects(read_label_map(self.folder / f"{name}.png"))


class DatasetObjects:
    """True instances, re-read from the dataset the build came from."""

    kind = "dataset"

    def __init__(self, dataset: str, root: Path, split: str):
        samples: Callable[[Path, str], Sequence]
        if dataset == "coco":
            from ..datasets.coco import coco_samples as samples
        elif dataset == "voc":
            from ..datasets.voc import voc_samples as samples
        elif dataset == "cityscapes":
            from ..datasets.cityscapes import cityscapes_samples as samples
        else:
            raise DatasetError(f"--root: cannot re-read instances of a {dataset!r} build (coco, voc, cityscapes only)")
        self.where = f"{root} ({split})"
        self.samples = {s.name: s for s in samples(Path(root), split)}

    def __call__(self, name: str) -> ImageObjects:
        if name not in self.samples:
            raise DatasetError(f"{self.where}: no image {name!r} in the dataset")
        loaded = self.samples[name].load()
        return ImageObjects(loaded.masks, loaded.classes, loaded.ignore)


def object_source(out: Path, root: Path | None = None, split: str | None = None):
    """How to get each image's objects (see the module docstring): dataset if known, else components."""
    meta = read_meta(out)
    source: dict = meta["source"] if isinstance(meta.get("source"), dict) else {}
    if root is None and isinstance(source.get("root"), str):
        root = Path(out) / source["root"]  # recorded relative to OUT (an absolute one stays)
    if root is None:
        return ComponentObjects(out)
    splits = list(meta.get("splits", {}))
    if split is not None and split not in splits:  # a role name (train, val) stands for its real split
        split = next((s for s in splits if f"{split}.txt" == split_list_name(s) == split_list_name(split)), split)
    split = split or source.get("split") or (splits[0] if len(splits) == 1 else None)
    if split is None:
        raise DatasetError(f"{Layout(out).meta}: several or no splits {splits}; pass --split")
    return DatasetObjects(str(meta.get("dataset")), Path(root), split)


def object_styles(owner: np.ndarray, classes: np.ndarray, scribbles: np.ndarray, record: dict | None) -> list[str]:
    """Majority style of the strokes owning each object's scribble pixels (see the module docstring)."""
    from ..sets.degrade import assign_pixels

    if record is None:
        return ["unknown"] * len(classes)
    strokes = record.get("strokes", [])
    owners = assign_pixels(scribbles, [np.asarray(s["points"], float) for s in strokes], [int(s["label"]) for s in strokes])
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


def _json_safe(value):
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _table(name: str, stats: Sequence[ObjectStats], class_names: Sequence[str]) -> list[dict]:
    rows = []
    for s in stats:
        row = s.row()
        label = row.pop("label")
        rows.append({"image": name, "object": row.pop("object"), "label": label,
                     "class": class_names[label] if label < len(class_names) else str(label), **row})
    return rows


@dataclass
class StatsReport:
    """What :func:`stats_report` wrote and its summary."""

    files: list[Path]
    summary: dict


def stats_report(
    scribbles: ScribbleSet, dest: Path, *, compare: ScribbleSet | None = None, root: Path | None = None,
    split: str | None = None, radius: int = 3, area_edges: Sequence[float] = AREA_EDGES,
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
            compared = agreement(objects.masks, objects.classes, label_map, label_b, ignore=objects.ignore, radius=radius) \
                if len(objects.classes) else []
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
        panels = [(f"{scribbles.out.name} seed {scribbles.tag}", counts), (f"{compare.out.name} seed {compare.tag}", counts_b)]
        write_bytes_atomic(extra[2], heatmap_png(panels, area_edges, scribble_edges))
        files[2:2] = extra
    write_bytes_atomic(dest / "summary.json", json_bytes(_json_safe(summary)))
    return StatsReport(files, summary)

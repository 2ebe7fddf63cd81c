"""Fidelity of a scribblesim build against the reference simulator's output, side by side.

The reference (ScribbleSimulation at 31b8ffc, withdrawn) writes, per run,
``scribble_gt/{name}.png`` and ``semantic_gt/{name}.png`` (3-channel PNGs, all channels
equal). Give one reference folder per run (its annotators are not seeded, so a run is
one annotator) and a scribblesim build of the same images; the images both have are
compared. Prints one table:

- foreground and background scribble pixels per image (mean over images and runs);
- the share of scribble pixels on the wrong class of the dense ground truth (each
  against its own ground truth);
- for scribblesim only, from its vector strokes: the share of boundary-stroke length
  that lies off its object's class before clipping, the median vertex spacing of
  background strokes, and how far background strokes run from the background's
  full-resolution medial axis (median and 95th percentile, sampled every half pixel).

    python benchmarks/fidelity.py OUT --reference REF_RUN [REF_RUN ...] [--seeds 1 2 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import cv2
import numpy as np
import shapely

from scribblesim.engine.medial import medial_axis
from scribblesim.engine.raster import stroke_pixels
from scribblesim.engine.result import BACKGROUND, UNLABELLED
from scribblesim.sets.layout import Layout
from scribblesim.sets.scribble_set import open_set, read_label_map


def label_counts(scribble: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Foreground and background scribble pixels, and how many of each are on the wrong class."""
    foreground = (scribble != UNLABELLED) & (scribble != BACKGROUND)
    background = scribble == BACKGROUND
    known = truth != UNLABELLED
    return {
        "fg": int(foreground.sum()),
        "bg": int(background.sum()),
        "fg_wrong": int((foreground & known & (scribble != truth)).sum()),
        "bg_wrong": int((background & known & (truth != BACKGROUND)).sum()),
    }


def stroke_figures(record: dict, truth: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """Per boundary stroke its off-class length share; per background stroke its vertex
    spacings and the distances of its half-pixel samples to the full-resolution skeleton."""
    off, spacing, deviation = [], [], []
    to_skeleton = None
    for stroke in record["strokes"]:
        points = np.asarray(stroke["points"], dtype=float)
        if stroke["style"] == "boundary":
            rows, cols = stroke_pixels(points, truth.shape, 1)
            if rows.size:
                off.append(float(np.mean(truth[rows, cols] != stroke["label"])))
        elif stroke["style"] == "background" and len(points) > 1:
            spacing += np.linalg.norm(np.diff(points, axis=0), axis=1).tolist()
            if to_skeleton is None:
                skeleton = medial_axis(np.pad(truth == BACKGROUND, 1), rng=0)[1:-1, 1:-1]
                to_skeleton = cv2.distanceTransform((~skeleton).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
            samples = np.rint(shapely.segmentize(shapely.LineString(points), 0.5).coords).astype(int)
            rows = np.clip(samples[:, 1], 0, truth.shape[0] - 1)
            cols = np.clip(samples[:, 0], 0, truth.shape[1] - 1)
            deviation += to_skeleton[rows, cols].tolist()
    return off, spacing, deviation


def summarise(rows: list[dict[str, float]]) -> dict[str, float]:
    total = {key: sum(r[key] for r in rows) for key in rows[0]}
    return {
        "fg": total["fg"] / len(rows),
        "bg": total["bg"] / len(rows),
        "wrong": (total["fg_wrong"] + total["bg_wrong"]) / max(1, total["fg"] + total["bg"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="A scribblesim build folder.")
    parser.add_argument("--reference", type=Path, nargs="+", required=True, help="Reference run folders.")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args()

    reference_names = set.intersection(*({p.stem for p in (r / "scribble_gt").glob("*.png")} for r in args.reference))
    sets = [open_set(args.out, seed) for seed in args.seeds]
    names = sorted(reference_names & set(sets[0].names()))
    if not names:
        raise SystemExit(f"error: {args.out} and the reference folders have no image in common")
    layout = Layout(args.out)

    ours, theirs, off, spacing, deviation = [], [], [], [], []
    for scribble_set in sets:
        records = scribble_set.records()
        for name in names:
            truth = read_label_map(layout.ground_truth(name))
            ours.append(label_counts(scribble_set.label_map(name), truth))
            boundary_off, background_spacing, background_deviation = stroke_figures(records[name], truth)
            off += boundary_off
            spacing += background_spacing
            deviation += background_deviation
    for run in args.reference:
        for name in names:
            truth = read_label_map(run / "semantic_gt" / f"{name}.png")
            # The reference's ground truth has no ignore value: crowd and unlabelled are 0.
            theirs.append(label_counts(read_label_map(run / "scribble_gt" / f"{name}.png"), truth))

    a, b = summarise(ours), summarise(theirs)
    print(f"{len(names)} images; scribblesim seeds {args.seeds}; {len(args.reference)} reference runs\n")
    print(f"{'':28} {'reference':>10} {'scribblesim':>12} {'ratio':>7}")
    for key, label in (("fg", "foreground px / image"), ("bg", "background px / image")):
        print(f"{label:28} {b[key]:10.0f} {a[key]:12.0f} {a[key] / b[key]:7.2f}")
    print(f"{'px on the wrong class':28} {b['wrong']:10.2%} {a['wrong']:12.2%}")
    if off:
        print(f"{'boundary length off-object':28} {'':>10} {statistics.mean(off):12.2%}   ({len(off)} strokes)")
    if spacing:
        print(f"{'background vertex spacing':28} {'':>10} {statistics.median(spacing):10.2f} px (median)")
    if deviation:
        print(
            f"{'background off the skeleton':28} {'':>10} {np.median(deviation):10.2f} px (median), "
            f"{np.percentile(deviation, 95):.2f} px (95th percentile)"
        )
    print(json.dumps({"reference": b, "scribblesim": a}, indent=None))


if __name__ == "__main__":
    main()

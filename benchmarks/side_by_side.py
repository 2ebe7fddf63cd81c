"""Scribble sets side by side on the same slices, a block of rows per class: how each annotator draws it.

    python benchmarks/side_by_side.py FIGURE.png experts=OUT:human fitted=FITTED:1 paper=OUT:1 [--slices 3]

Each column is a set (``LABEL=BUILD:SET``) of builds of the same images; each block of rows
a class (background first), each row one image of the first build's ``--split`` (evenly
spread among those that hold every class). A class's panel shows that class's scribble
pixels alone over the image: the whole image for the background, a crop around the objects
for the others.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from scribblesim.engine.result import UNLABELLED
from scribblesim.sets.layout import Layout, read_meta, set_name, split_list_path
from scribblesim.sets.scribble_set import read_label_map

COLOURS = ("gold", "red", "lime", "deepskyblue", "magenta", "orange")


def set_labels(build: Path, tag: str, name: str) -> np.ndarray:
    prefix = read_meta(build)["prefix"]
    return read_label_map(build / f"{prefix}_scribble_{set_name(tag)}" / f"{name}.png")


def image_of(build: Path, name: str) -> np.ndarray:
    found = sorted(Layout(build).images.glob(f"{name}.*"))
    return plt.imread(str(found[0])) if found else np.zeros((8, 8))


def crop_around(truth: np.ndarray, margin: float = 0.35) -> tuple[slice, slice]:
    rows, cols = np.nonzero((truth != 0) & (truth != UNLABELLED))
    height, width = np.ptp(rows) + 1, np.ptp(cols) + 1
    grow = int(margin * max(height, width))
    return (
        slice(max(0, rows.min() - grow), rows.max() + grow + 1),
        slice(max(0, cols.min() - grow), cols.max() + grow + 1),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("figure", type=Path)
    parser.add_argument("columns", nargs="+", help="LABEL=BUILD:SET, e.g. experts=OUT:human")
    parser.add_argument("--split", default="val")
    parser.add_argument("--slices", type=int, default=3)
    args = parser.parse_args(argv)
    columns = []
    for column in args.columns:
        label, _, where = column.partition("=")
        build, _, tag = where.rpartition(":")
        if not (label and build and tag):
            sys.exit(f"error: {column!r}: give LABEL=BUILD:SET")
        columns.append((label, Path(build), tag))
    first = columns[0][1]
    classes = read_meta(first)["classes"]
    names = split_list_path(first, args.split).read_text().split()
    complete = [n for n in names if len(np.unique(read_label_map(Layout(first).ground_truth(n)))) > len(classes) - 1]
    chosen = [complete[int(k)] for k in np.linspace(0, len(complete) - 1, args.slices + 2)[1:-1]]
    rows = len(classes) * len(chosen)
    figure, axes = plt.subplots(rows, len(columns), figsize=(2.2 * len(columns), 2.2 * rows), squeeze=False)
    for k, class_name in enumerate(classes):
        for s, name in enumerate(chosen):
            truth = read_label_map(Layout(first).ground_truth(name))
            box = (slice(None), slice(None)) if k == 0 else crop_around(truth)
            image = image_of(first, name)
            for c, (label, build, tag) in enumerate(columns):
                axis = axes[k * len(chosen) + s, c]
                axis.imshow(image[box], cmap="gray")
                drawn = np.ma.masked_where(set_labels(build, tag, name)[box] != k, np.ones(truth[box].shape))
                axis.imshow(drawn, cmap=matplotlib.colors.ListedColormap([COLOURS[k % len(COLOURS)]]), vmin=0, vmax=1)
                axis.set_xticks([])
                axis.set_yticks([])
                if k == 0 and s == 0:
                    axis.set_title(label, fontsize=10)
                if c == 0:
                    axis.set_ylabel(f"{class_name}\n{name}", fontsize=7)
    figure.tight_layout()
    figure.savefig(args.figure, dpi=80)
    print(f"wrote {args.figure}: {len(classes)} classes x {len(chosen)} images x {len(columns)} sets")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Per class, where each annotator's scribbles sit on the structures of a build's split.

What partial CE learns from, class by class: for the human set and each simulated set of a
``scribblesim build`` output (ScribbleACDC: its objects are the ground truth's components),
over the objects of each class in the split:

- **missed**: share of objects with no scribble pixel of their class on them;
- **labelled**: share of the class's pixels that the set labels with it (background too);
- **depth**, **rim**: the median object's depth and rim share of its scribble's skeleton
  (:mod:`scribblesim.analysis.style_measures`: depth 1 on the deepest point, near 0 on the
  boundary; rim = share of skeleton below a quarter depth);
- **reach**: mean over an object's pixels of the distance to its nearest scribble pixel,
  / the object's inscribed radius (the median object; how far the pixels a model must
  fill in lie from a label: a loop inside the LV cavity reaches every pixel, a short
  central stroke leaves the cavity's rim far away);
- **spill**: share of the set's pixels of the class that lie on another class in the
  ground truth (background included).

And where the background scribbles sit (the median image):

- **distance**: the median distance of the background scribble's pixels to the nearest
  object, / the objects' equivalent radius (the radius of a disc of their total area):
  ScribbleACDC's experts circle the heart closely, the paper's style runs far from it;
- **around**: the share of 10-degree sectors around the objects' centroid that hold a
  background scribble pixel (1: all the way round).

    python benchmarks/scribble_classes.py OUT [--sets human,1,2,3] [--split train] [--json]
        [--figure PNG --labels experts,s1,...]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from scipy import ndimage

from scribblesim.analysis.objects import components_as_objects
from scribblesim.analysis.style_measures import background_placement, frame_measures, object_frames
from scribblesim.engine.result import UNLABELLED
from scribblesim.sets.layout import Layout, read_meta, set_name, split_list_path
from scribblesim.sets.scribble_set import read_label_map


def set_folder(out: Path, tag: str) -> Path:
    """The folder of scribble set ``tag`` (``human`` or a seed) in a build."""
    prefix = read_meta(out).get("prefix", "")
    folder = out / f"{prefix}_scribble_{set_name(tag)}"
    if not folder.is_dir():
        raise SystemExit(f"error: {folder}: scribble set {tag!r} not found in the build")
    return folder


def measure(out: Path, names: list[str], tags: list[str], classes: int) -> dict[str, list[dict]]:
    """Per set, per class (background first), the measures of the module docstring."""
    folders = {tag: set_folder(out, tag) for tag in tags}
    per = {
        tag: [
            {
                "objects": 0,
                "missed": 0,
                "labelled": [0, 0],
                "depth": [],
                "rim": [],
                "reach": [],
                "spill": [0, 0],
                "distance": [],
                "around": [],
            }
            for _ in range(classes)
        ]
        for tag in tags
    }
    for name in names:
        truth = read_label_map(Layout(out).ground_truth(name))
        objects = components_as_objects(truth)
        frames = object_frames(objects.masks, objects.ignore)
        foreground = (truth != 0) & (truth != UNLABELLED)
        for tag, folder in folders.items():
            scribbles = read_label_map(folder / f"{name}.png")
            cells = per[tag]
            placement = background_placement(scribbles == 0, foreground)
            if placement is not None:
                cells[0]["distance"].append(placement[0])
                cells[0]["around"].append(placement[1])
            for k in range(classes):
                drawn, present = scribbles == k, truth == k
                cells[k]["labelled"][0] += int((drawn & present).sum())
                cells[k]["labelled"][1] += int(present.sum())
                cells[k]["spill"][0] += int((drawn & ~present & (truth != UNLABELLED)).sum())
                cells[k]["spill"][1] += int((drawn & (truth != UNLABELLED)).sum())
            for frame in frames:
                label = int(objects.classes[frame.index])
                cell, on = cells[label], frame.mask & (scribbles[frame.box] == label)
                cell["objects"] += 1
                if not on.any():
                    cell["missed"] += 1
                    continue
                style = frame_measures(frame, label, scribbles)
                cell["depth"].append(style.depth)
                cell["rim"].append(style.rim)
                reach = ndimage.distance_transform_edt(~on)[frame.mask].mean() / frame.depth.max()
                cell["reach"].append(float(reach))
    return {
        tag: [
            {
                "objects": c["objects"],
                "missed": c["missed"] / c["objects"] if c["objects"] else None,
                "labelled": c["labelled"][0] / c["labelled"][1] if c["labelled"][1] else None,
                **{
                    k: statistics.median(c[k]) if c[k] else None
                    for k in ("depth", "rim", "reach", "distance", "around")
                },
                "spill": c["spill"][0] / c["spill"][1] if c["spill"][1] else None,
            }
            for c in cells
        ]
        for tag, cells in per.items()
    }


def format_table(result: dict[str, list[dict]], names: list[str]) -> str:
    """One row per class and set."""
    header = "| class | set | objects | missed | labelled | depth | rim | reach | spill |"
    lines = [header, "|" + "---|" * 9]

    def cell(value: float | None, percent: bool = False) -> str:
        return "-" if value is None else f"{100 * value:.1f} %" if percent else f"{value:.2f}"

    for k, name in enumerate(names):
        for tag, cells in result.items():
            c = cells[k]
            lines.append(
                f"| {name} | {tag} | {c['objects']} | {cell(c['missed'], True)} | {cell(c['labelled'], True)} | "
                f"{cell(c['depth'])} | {cell(c['rim'])} | {cell(c['reach'])} | {cell(c['spill'], True)} |"
            )
    lines += ["", "| background | set | distance to the objects (/ their radius) | around |", "|---|---|---|---|"]
    for tag, cells in result.items():
        lines.append(f"| {names[0]} | {tag} | {cell(cells[0]['distance'])} | {cell(cells[0]['around'])} |")
    return "\n".join(lines)


def draw(result: dict[str, list[dict]], classes: list[str], labels: list[str], path: Path) -> None:
    """Per class, each set's labelled share and reach; then where the background scribbles sit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tags = list(result)
    panels = [("labelled", "share of the class labelled (%)", 100), ("reach", "reach (/ inscribed radius)", 1)]
    figure, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    width = 0.8 / len(tags)
    for axis, (key, title, scale) in zip(axes, panels):
        for t, tag in enumerate(tags):
            values = [(result[tag][k][key] or 0) * scale for k in range(len(classes))]
            axis.bar(
                [k + (t - (len(tags) - 1) / 2) * width for k in range(len(classes))], values, width, label=labels[t]
            )
        axis.set_xticks(range(len(classes)), classes)
        axis.set_title(title, fontsize=10)
    for t, tag in enumerate(tags):
        cell = result[tag][0]
        if cell["distance"] is not None:
            axes[2].scatter(cell["distance"], cell["around"], s=60, label=labels[t])
    axes[2].set(xlabel="distance to the objects (/ their equivalent radius)", ylabel="share of sectors around them")
    axes[2].set_title("background scribbles (median image)", fontsize=10)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="A scribblesim build output.")
    parser.add_argument("--sets", default="human,1", help="Scribble sets: human and/or seeds (default human,1).")
    parser.add_argument("--split", default="train", help="The split measured (default train).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    parser.add_argument("--figure", type=Path, default=None, help="Also draw the measures (PNG).")
    parser.add_argument("--labels", default=None, help="The sets' names in the figure (default: their tags).")
    args = parser.parse_args()
    if not (args.out / "meta.json").is_file():
        raise SystemExit(f"error: {args.out}: not a scribblesim build (no meta.json)")
    listed = split_list_path(args.out, args.split)
    if not listed.is_file():
        raise SystemExit(f"error: --split {args.split}: {listed} not found")
    names = listed.read_text(encoding="utf-8").split()
    classes = read_meta(args.out)["classes"]
    tags = [tag for tag in args.sets.split(",") if tag]
    result = measure(args.out, names, tags, len(classes))
    report = {"split": args.split, "images": len(names), "classes": classes, "sets": result}
    print(json.dumps(report, indent=1) if args.json else format_table(result, classes))
    if args.figure is not None:
        labels = args.labels.split(",") if args.labels else tags
        if len(labels) != len(tags):
            raise SystemExit(f"error: --labels: {len(labels)} names for {len(tags)} sets")
        draw(result, classes, labels, args.figure)


if __name__ == "__main__":
    main()

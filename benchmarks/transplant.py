"""Give one scribble set another's background strokes: a set to train, to see what the background decides.

    python benchmarks/transplant.py OUT --foreground human --background 1 --tag 71
    python benchmarks/transplant.py OUT --foreground 1 --background 1 --also-from human:LV --tag 76

writes ``{prefix}_scribble_r71`` into the build ``OUT`` for every image of its split lists:
the foreground scribble pixels (classes 1 and up) of set ``--foreground`` and the background
scribble pixels (class 0) of set ``--background``; where both label a pixel, the foreground
wins. ``--also-from SET:CLASS[,CLASS]`` takes those classes' pixels from a third set instead
(names from the build's ``meta.json``, or ids), to see what one structure's strokes decide. ``benchmarks/learning.py --annotators s71`` then trains it like any simulated set, so
that line 1 and line 10 show whether the background strokes move training toward the
other set's. Existing PNGs are kept (a rerun resumes); nothing else of ``OUT`` changes.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from scribblesim.engine.result import BACKGROUND, UNLABELLED
from scribblesim.sets.layout import Layout, read_meta, set_name
from scribblesim.sets.scribble_set import read_label_map


def transplanted(
    foreground: np.ndarray, background: np.ndarray, donor: np.ndarray | None = None, donated: tuple[int, ...] = ()
) -> np.ndarray:
    """``foreground``'s class pixels over ``background``'s background pixels, the rest unlabelled;
    the pixels of the classes ``donated`` come from ``donor`` instead of ``foreground``."""
    labels = np.full_like(foreground, UNLABELLED)
    labels[background == BACKGROUND] = BACKGROUND
    classes = (foreground != BACKGROUND) & (foreground != UNLABELLED) & ~np.isin(foreground, donated)
    labels[classes] = foreground[classes]
    if donor is not None:
        given = np.isin(donor, donated)
        labels[given] = donor[given]
    return labels


def class_ids(names: str, class_names: list[str]) -> tuple[int, ...]:
    """Class ids of comma-separated names or ids."""
    return tuple(int(n) if n.isdigit() else class_names.index(n) for n in names.split(","))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="A scribblesim build.")
    parser.add_argument("--foreground", required=True, help="Set whose class pixels are kept (human, 1, ...).")
    parser.add_argument("--background", required=True, help="Set whose background pixels are taken.")
    parser.add_argument("--also-from", default=None, help="SET:CLASS[,CLASS]: those classes' pixels from SET.")
    parser.add_argument("--tag", type=int, required=True, help="Seed number the new set is written as (r{tag}).")
    args = parser.parse_args(argv)
    meta = read_meta(args.out)
    prefix = meta["prefix"]
    donor_set, donated = args.also_from.split(":") if args.also_from else (None, "")
    donated_ids = class_ids(donated, meta["classes"]) if donated else ()
    folder = args.out / f"{prefix}_scribble_{set_name(args.tag)}"
    if folder.exists() and any(folder.glob(".complete*")):
        sys.exit(f"{folder}: a set written by scribblesim; choose another --tag")
    folder.mkdir(exist_ok=True)
    tags = [args.foreground, args.background] + ([donor_set] if donor_set else [])
    sources = [args.out / f"{prefix}_scribble_{set_name(tag)}" for tag in tags]
    names = sorted({n for f in Layout(args.out).split_lists.glob("*.txt") for n in f.read_text().split()})
    for name in names:
        target = folder / f"{name}.png"
        if target.is_file():
            continue
        labels = transplanted(*(read_label_map(source / f"{name}.png") for source in sources), donated=donated_ids)
        temporary = folder / f".{name}.tmp.png"
        cv2.imwrite(str(temporary), labels)
        os.replace(temporary, target)
    also = f", classes {donated} of set {donor_set}" if donor_set else ""
    print(f"{folder}: {len(names)} images, classes of set {args.foreground}, background of set {args.background}{also}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

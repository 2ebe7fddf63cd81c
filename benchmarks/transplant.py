"""Give one scribble set another's background strokes: a set to train, to see what the background decides.

    python benchmarks/transplant.py OUT --foreground human --background 1 --tag 71

writes ``{prefix}_scribble_r71`` into the build ``OUT`` for every image of its split lists:
the foreground scribble pixels (classes 1 and up) of set ``--foreground`` and the background
scribble pixels (class 0) of set ``--background``; where both label a pixel, the foreground
wins. ``benchmarks/learning.py --annotators s71`` then trains it like any simulated set, so
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


def transplanted(foreground: np.ndarray, background: np.ndarray) -> np.ndarray:
    """``foreground``'s class pixels over ``background``'s background pixels, the rest unlabelled."""
    labels = np.full_like(foreground, UNLABELLED)
    labels[background == BACKGROUND] = BACKGROUND
    classes = (foreground != BACKGROUND) & (foreground != UNLABELLED)
    labels[classes] = foreground[classes]
    return labels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path, help="A scribblesim build.")
    parser.add_argument("--foreground", required=True, help="Set whose class pixels are kept (human, 1, ...).")
    parser.add_argument("--background", required=True, help="Set whose background pixels are taken.")
    parser.add_argument("--tag", type=int, required=True, help="Seed number the new set is written as (r{tag}).")
    args = parser.parse_args(argv)
    prefix = read_meta(args.out)["prefix"]
    folder = args.out / f"{prefix}_scribble_{set_name(args.tag)}"
    if folder.exists() and any(folder.glob(".complete*")):
        sys.exit(f"{folder}: a set written by scribblesim; choose another --tag")
    folder.mkdir(exist_ok=True)
    sources = [args.out / f"{prefix}_scribble_{set_name(tag)}" for tag in (args.foreground, args.background)]
    names = sorted({n for f in Layout(args.out).split_lists.glob("*.txt") for n in f.read_text().split()})
    for name in names:
        target = folder / f"{name}.png"
        if target.is_file():
            continue
        labels = transplanted(*(read_label_map(source / f"{name}.png") for source in sources))
        temporary = folder / f".{name}.tmp.png"
        cv2.imwrite(str(temporary), labels)
        os.replace(temporary, target)
    print(f"{folder}: {len(names)} images, classes of set {args.foreground}, background of set {args.background}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

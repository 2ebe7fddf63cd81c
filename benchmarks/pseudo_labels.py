"""Stage-1 pseudo-labels made four ways (CAM or scribble head, with or without PAR) and their ceiling.

Scores a stage-1 checkpoint's pseudo-labels against the dense ground truth of a fixed random
sample of a split (Table VII's measure: uncertain pixels left out; their share printed), made
from the classifier's CAMs (the paper) or the scribble head (``--pseudo-source
scribble-head``), each with and without PAR; and the ceiling of the ViT's token grid: the
ground truth averaged onto it and upsampled back, which no prediction on that grid can beat.

    python benchmarks/pseudo_labels.py --data OUT --checkpoint RUN/last.pt --scribbles acdc_scribble_human \\
        [--split train] [--sample 100] [--seed 0] [--device cpu] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from lab.pseudo_variants import VARIANTS, grid_ceiling, score_variants

from csptrain.data.layout import class_names_of, read_split
from csptrain.errors import UserError
from csptrain.runtime.process import on_device
from csptrain.stage1.train import load_stage1_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="A scribblesim build.")
    parser.add_argument("--checkpoint", type=Path, required=True, help="A stage-1 run's checkpoint.")
    parser.add_argument("--scribbles", required=True, help="Scribble folder: each image's classes.")
    parser.add_argument("--split", default="train", help="Split sampled (default train).")
    parser.add_argument("--sample", type=int, default=100, help="Images drawn from the split (default 100).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the draw (default 0).")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, auto (default cpu).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    args = parser.parse_args()
    if args.sample < 1:
        parser.error(f"--sample must be >= 1, got {args.sample}")
    try:
        names = read_split(args.data, args.split)
        chosen = np.random.default_rng(args.seed).choice(len(names), min(args.sample, len(names)), replace=False)
        sample = [names[i] for i in sorted(chosen)]
        trained = load_stage1_model(args.checkpoint)
        patch, scale = trained.model.patch_size, trained.config.cam_scales[0]
        variants = score_variants(args.data, trained, args.scribbles, sample, on_device(args.device).device)
        ceiling = grid_ceiling(args.data, sample, patch, scale, len(class_names_of(args.data)))
    except UserError as error:
        raise SystemExit(f"error: {error}") from None
    result = {"images": len(sample), "split": args.split, "variants": variants, "ceiling": ceiling}
    if args.json:
        print(json.dumps(result, indent=1))
        return
    print(f"{args.checkpoint}: {len(sample)} {args.split} images; mIoU (uncertain share)")
    for name, _, _ in VARIANTS:
        scores = variants[name]
        print(f"  {name:<9} {100 * scores['miou']:5.1f}  ({100 * scores['uncertain_share']:.0f} % uncertain)")
    print(f"  ceiling of the {patch}-px token grid at scale {ceiling['scale']:g}: {100 * ceiling['miou']:.1f}")


if __name__ == "__main__":
    sys.exit(main())

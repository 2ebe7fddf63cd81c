"""Stage 1's lattice regulariser against the exact Gaussian kernel on real image crops.

For each image, a 448^2 centre crop at half resolution (ToCo's 224^2, sigma_xy 50 px,
sigma_rgb 15), an 81-class smooth softmax and ToCo's gate 1 - max p: the ratio of the
lattice's energy to the exact kernel's and the cosine of their gradients (K S * G), both
over ``--pixels`` random pixels (the exact kernel costs N^2 = 2.5e9 entries per crop), for
each feature narrowing in ``--sharpen`` (the lattice's :data:`SHARPEN`), and the lattice's
milliseconds per crop.

    python benchmarks/regulariser_accuracy.py [--images DIR] [--limit 12] [--sharpen 1.0 1.05 1.1] [--json]

Without ``--images`` the embedded COCO sample's images are used (coco128's
``train2017`` made the table in docs/training.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from lab.throughput import centre_crop
from torch.nn import functional as F

from csptrain.losses import lattice
from scribblesim.datasets.sample import coco_sample_root

SIZE, SIGMA_XY, SIGMA_RGB, CLASSES = 224, 50.0, 15.0, 81


def crop_features(path: Path) -> torch.Tensor:
    """Kernel features (N, 5) of an image's 448^2 centre crop at half resolution."""
    image = cv2.resize(centre_crop(path, 2 * SIZE), (SIZE, SIZE), interpolation=cv2.INTER_NEAREST)
    ys, xs = torch.meshgrid(torch.arange(float(SIZE)), torch.arange(float(SIZE)), indexing="ij")
    position = torch.stack([ys, xs], -1).reshape(-1, 2) / SIGMA_XY
    return torch.cat([position, torch.from_numpy(image).float().reshape(-1, 3) / SIGMA_RGB], 1)


def agreement(features: torch.Tensor, generator: torch.Generator, pixels: int) -> tuple[float, float, float]:
    """(energy ratio, gradient cosine, lattice seconds) of one crop at the current SHARPEN."""
    logits = F.interpolate(torch.randn(1, CLASSES, 14, 14, generator=generator) * 4, size=(SIZE, SIZE), mode="bilinear")
    probabilities = logits[0].softmax(0).reshape(CLASSES, -1).T
    gate = (1 - probabilities.max(1).values)[:, None]
    rows = torch.randperm(len(features), generator=generator)[:pixels]
    exact = lattice.exact_sum_at(features, probabilities, rows) * gate[rows]
    start = time.perf_counter()
    approximate = lattice.gaussian_sum(features, probabilities)
    seconds = time.perf_counter() - start
    approximate = approximate[rows] * gate[rows]
    ratio = (probabilities[rows] * approximate).sum() / (probabilities[rows] * exact).sum()
    return ratio.item(), F.cosine_similarity(approximate.flatten(), exact.flatten(), 0).item(), seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=Path, default=coco_sample_root() / "train2017")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--pixels", type=int, default=2000)
    parser.add_argument("--sharpen", type=float, nargs="+", default=[1.0, lattice.SHARPEN, 1.1])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    paths = sorted(args.images.glob("*.jpg"))[: args.limit]
    crops = [crop_features(path) for path in paths]
    rows = []
    for sharpen in args.sharpen:
        lattice.SHARPEN = sharpen
        generator = torch.Generator().manual_seed(0)
        ratios, cosines, seconds = zip(*(agreement(crop, generator, args.pixels) for crop in crops))
        rows.append(
            {
                "sharpen": sharpen,
                "energy_ratio": [min(ratios), max(ratios)],
                "gradient_cosine": [min(cosines), max(cosines)],
                "lattice_ms": float(np.median(seconds) * 1000),
            }
        )
    if args.json:
        print(json.dumps({"images": len(crops), "rows": rows}))
        return
    print(f"{len(crops)} crops of {args.images}, {SIZE}^2, {CLASSES} classes, {args.pixels} pixels each\n")
    print(f"{'features x':>10} {'energy / exact':>16} {'gradient cosine':>17} {'lattice ms':>11}")
    for row in rows:
        low, high = row["energy_ratio"]
        c_low, c_high = row["gradient_cosine"]
        print(f"{row['sharpen']:>10.2f} {low:7.3f}-{high:<8.3f} {c_low:8.4f}-{c_high:<8.4f} {row['lattice_ms']:11.0f}")


if __name__ == "__main__":
    main()

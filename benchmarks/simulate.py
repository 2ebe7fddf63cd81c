"""Milliseconds per image and seed of scribblesim's simulation on the embedded COCO sample, one core.

Masks are decoded once beforehand (decoding is the dataset adapter's job, timed
separately by benchmarks/build.py). One row per grid setting and per number of
seeds simulated together (``simulate_seeds`` shares the mask analysis between seeds, as
``scribblesim build`` does). The reference simulator's 1.28 s per image is the row to beat.

    python benchmarks/simulate.py [--repeats 3] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

import scribblesim  # noqa: E402
from scribblesim.datasets.coco import coco_samples  # noqa: E402
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root  # noqa: E402

#: The reference simulator (ScribbleSimulation at 31b8ffc), one process on this kind of
#: machine (best of three runs on coco128): milliseconds per COCO image, and the share of its
#: foreground scribble pixels that carry their ground-truth class (see benchmarks/fidelity.py).
REFERENCE_MS_PER_IMAGE = 1280.0
REFERENCE_PRECISION = 0.900


#: Grid settings measured: the defaults (line skeletons capped at 4,096 pixels, the
#: background on a 2x grid for COCO-size images), the background at full resolution
#: (the default before issue 22), and everything at full resolution.
SETTINGS = {
    "default": {},
    "background full res": {"background_work_pixels": None},
    "all full res": {"background_work_pixels": None, "max_work_pixels": None},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="Print the rows as JSON instead of a table.")
    args = parser.parse_args()
    samples = [s.load() for s in coco_samples(coco_sample_root(), COCO_SAMPLE_SPLIT)]
    objects = sum(len(s.classes) for s in samples)
    rows = []
    for name, fields in SETTINGS.items():
        config = scribblesim.SimConfig(**fields)
        for seeds in ([1], [1, 2], [1, 2, 3]):
            runs, per_image = [], []
            for _ in range(args.repeats):
                start = time.perf_counter()
                for s in samples:
                    t = time.perf_counter()
                    scribblesim.simulate_seeds(s.masks, s.classes, seeds, s.image_id, config, ignore=s.ignore)
                    per_image.append((time.perf_counter() - t) / len(seeds))
                runs.append((time.perf_counter() - start) / len(samples) / len(seeds))
            right = total = strokes = 0
            for s in samples:
                for result in scribblesim.simulate_seeds(
                    s.masks, s.classes, seeds, s.image_id, config, ignore=s.ignore
                ):
                    labelled = (result.label_map != 255) & (result.label_map != 0)
                    right += int((result.label_map[labelled] == s.semantic[labelled]).sum())
                    total += int(labelled.sum())
                    strokes += len(result.strokes)
            rows.append(
                {
                    "settings": name,
                    "seeds": len(seeds),
                    "ms_per_image_seed": statistics.median(runs) * 1000,
                    "p95_ms": float(np.percentile(per_image, 95) * 1000),
                    "strokes": strokes,
                    "fg_precision": right / total,
                }
            )
    if args.json:
        print(json.dumps({"images": len(samples), "reference_ms_per_image": REFERENCE_MS_PER_IMAGE, "rows": rows}))
        return
    print(f"{len(samples)} COCO images, {objects} objects; median of {args.repeats} runs, 1 core\n")
    print(f"{'settings':>20} {'seeds':>6} {'ms/image/seed':>14} {'p95 ms':>7} {'strokes':>8} {'fg precision':>13}")
    print(f"{'reference':>20} {1:6d} {REFERENCE_MS_PER_IMAGE:14.1f} {'':>7} {'':>8} {REFERENCE_PRECISION:13.3f}")
    for row in rows:
        print(
            f"{row['settings']:>20} {row['seeds']:6d} {row['ms_per_image_seed']:14.1f} {row['p95_ms']:7.1f} "
            f"{row['strokes']:8d} {row['fg_precision']:13.5f}"
        )


if __name__ == "__main__":
    main()

"""Milliseconds per image and seed of scribblesim's simulation on the embedded COCO sample, one core.

Masks are decoded once beforehand (decoding is the dataset adapter's job, timed
separately by benchmarks/build.py). One row per line-stroke grid cap and per number of
seeds simulated together (``simulate_seeds`` shares the mask analysis between seeds, as
``scribblesim build`` does). The reference simulator's 0.9 s per image is the row to beat.

    python benchmarks/simulate.py [--repeats 3]
"""

from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    samples = [s.load() for s in coco_samples(coco_sample_root(), COCO_SAMPLE_SPLIT)]
    objects = sum(len(s.classes) for s in samples)
    print(f"{len(samples)} COCO images, {objects} objects; median of {args.repeats} runs, 1 core\n")
    print(
        f"{'max_work_pixels':>16} {'seeds':>6} {'ms/image/seed':>14} {'p95 ms':>7} {'strokes':>8} {'fg precision':>13}"
    )
    print(f"{'reference':>16} {1:6d} {REFERENCE_MS_PER_IMAGE:14.1f} {'':>7} {'':>8} {REFERENCE_PRECISION:13.3f}")
    for cap in (None, 4096):
        config = scribblesim.SimConfig(max_work_pixels=cap)
        for seeds in ([1], [1, 2, 3]):
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
            print(
                f"{str(cap):>16} {len(seeds):6d} {statistics.median(runs) * 1000:14.1f} "
                f"{np.percentile(per_image, 95) * 1000:7.1f} {strokes:8d} {right / total:13.5f}"
            )


if __name__ == "__main__":
    main()

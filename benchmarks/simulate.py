"""Milliseconds per image of scribblesim.simulate on the embedded COCO sample, one core.

Masks are decoded once beforehand (decoding is the dataset adapter's job, timed
separately by benchmarks/build.py). Prints one row per analysis-grid cap.

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
from scribblesim.sample import COCO_SAMPLE_SPLIT, coco_sample_root  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    samples = [s.load() for s in coco_samples(coco_sample_root(), COCO_SAMPLE_SPLIT)]
    objects = sum(len(s.classes) for s in samples)
    print(f"{len(samples)} COCO images, {objects} objects; median of {args.repeats} runs, 1 core\n")
    print(f"{'max_work_pixels':>16} {'ms/image':>9} {'p95 ms':>7} {'strokes':>8} {'fg precision':>13}")
    for cap in (None, 16384, 8192, 4096, 2048):
        config = scribblesim.SimConfig(max_work_pixels=cap)
        runs, per_image = [], []
        for _ in range(args.repeats):
            start = time.perf_counter()
            for s in samples:
                t = time.perf_counter()
                result = scribblesim.simulate(s.masks, s.classes, seed=1, image_id=s.image_id, config=config, ignore=s.ignore)
                per_image.append(time.perf_counter() - t)
            runs.append((time.perf_counter() - start) / len(samples))
        right = total = strokes = 0
        for s in samples:
            result = scribblesim.simulate(s.masks, s.classes, seed=1, image_id=s.image_id, config=config, ignore=s.ignore)
            labelled = (result.label_map != 255) & (result.label_map != 0)
            right += int((result.label_map[labelled] == s.semantic[labelled]).sum())
            total += int(labelled.sum())
            strokes += len(result.strokes)
        print(
            f"{str(cap):>16} {statistics.median(runs) * 1000:9.1f} "
            f"{np.percentile(per_image, 95) * 1000:7.1f} {strokes:8d} {right / total:13.5f}"
        )


if __name__ == "__main__":
    main()

"""Throughput and peak memory of `scribblesim build coco` on the embedded sample.

For jobs = 1 and 2: images/s (each image with all seeds), peak RSS of the whole process
tree (parent + workers, sampled every 20 ms), the speed-up over one worker, and the
wall time this machine would need for COCO train2014 (82,783 images) x the seeds.
Workers are started and warmed before timing (loky reuses them), so the figures are
steady-state throughput, as in a long build.

    python benchmarks/build.py [--seeds 1 2 3] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import psutil

from scribblesim.build import BuildSpec, build
from scribblesim.config import SimConfig
from scribblesim.datasets.coco import coco_class_names, coco_samples
from scribblesim.sample import COCO_SAMPLE_SPLIT, coco_sample_root

COCO_TRAIN2014_IMAGES = 82_783


class PeakRss:
    """Peak resident memory of this process and its children, sampled in a thread."""

    def __init__(self, interval: float = 0.02) -> None:
        self.interval, self.peak, self._stop = interval, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        me = psutil.Process()
        while not self._stop.is_set():
            total = 0
            for process in [me, *me.children(recursive=True)]:
                try:
                    total += process.memory_info().rss
                except psutil.Error:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def timed_build(samples, seeds, jobs: int, names) -> tuple[float, int]:
    with tempfile.TemporaryDirectory() as tmp, PeakRss() as rss:
        spec = BuildSpec(Path(tmp), COCO_SAMPLE_SPLIT, "bench", tuple(seeds), SimConfig())
        start = time.perf_counter()
        build(samples, spec, dataset="coco", class_names=names, jobs=jobs, progress=False, total=len(samples))
        seconds = time.perf_counter() - start
    return seconds, rss.peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--repeat", type=int, default=3, help="Copies of the sample per run (longer, steadier runs).")
    args = parser.parse_args()
    root = coco_sample_root()
    base = coco_samples(root, COCO_SAMPLE_SPLIT)
    names = coco_class_names(root / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json")
    # Distinct names and image ids per copy, so every copy is simulated afresh.
    samples = [
        s.__class__(**{**s.__dict__, "name": f"{k}_{s.name}", "image_id": s.image_id + k * 10**7})
        for k in range(args.repeat) for s in base
    ]
    print(f"{len(samples)} images ({args.repeat} x {len(base)} COCO sample images), seeds {args.seeds}, "
          f"{os.cpu_count()} CPUs\n")
    print(f"{'jobs':>4} {'images/s':>9} {'ms/image/core':>14} {'speed-up':>9} {'peak RSS MB':>12} {'train2014 x seeds':>18}")
    single = None
    for jobs in (1, 2):
        timed_build(samples[:8], args.seeds, jobs, names)  # start and warm the workers
        seconds, peak = timed_build(samples, args.seeds, jobs, names)
        rate = len(samples) / seconds
        single = single or rate
        hours = COCO_TRAIN2014_IMAGES / rate / 3600
        print(f"{jobs:>4} {rate:9.1f} {1000 * jobs / rate:14.1f} {rate / single:8.2f}x {peak / 2**20:12.0f} {hours:15.2f} h")


if __name__ == "__main__":
    main()

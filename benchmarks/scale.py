"""ScribbleCOCO's size, stopped and picked up again: a build of a synthetic COCO index of N images.

    python benchmarks/scale.py [--images 120000] [--jobs 2] [--stop-at N] [--rerun-seconds 60] [--json]

The index holds the embedded sample's images and annotations (real masks, about 7
instances an image) again and again under new ids and names; each image file is a link
to the sample's. The build runs as the real command (``scribblesim build coco``) and the
benchmark reports:

- the seconds from the command's start to its first image;
- the parent's peak resident memory, and the largest unique memory (USS) of each worker
  over the whole run, sampled every 2 s (`--sample-every`);
- images/s after the first minute, against the same build of 2,000 images;
- Ctrl-C (SIGINT to the process group) once ``--stop-at`` images are written (default:
  half), its exit status and what it printed;
- the rerun: when it writes its first new image, and its rate for ``--rerun-seconds``
  after that; then SIGTERM to its process, its exit status, lines and any leaked-memory
  warning.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root

SPLIT = "scale"
SAMPLE_EVERY_S = 2.0


def synthetic_root(folder: Path, images: int) -> Path:
    """A COCO root with ``images`` images: the embedded sample's, repeated under new ids and names."""
    source = coco_sample_root()
    data = json.loads((source / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json").read_text())
    by_image: dict[int, list[dict]] = {}
    for annotation in data["annotations"]:
        by_image.setdefault(annotation["image_id"], []).append(annotation)
    originals = [image for image in data["images"] if image["id"] in by_image]
    (folder / "annotations").mkdir(parents=True)
    (folder / SPLIT).mkdir()
    out_images, out_annotations = [], []
    for new_id in range(1, images + 1):
        image = originals[(new_id - 1) % len(originals)]
        name = f"{new_id:012d}.jpg"
        os.symlink(source / COCO_SAMPLE_SPLIT / image["file_name"], folder / SPLIT / name)
        out_images.append({**image, "id": new_id, "file_name": name})
        for annotation in by_image[image["id"]]:
            out_annotations.append({**annotation, "id": len(out_annotations) + 1, "image_id": new_id})
    data.update(images=out_images, annotations=out_annotations)
    (folder / "annotations" / f"instances_{SPLIT}.json").write_text(json.dumps(data))
    return folder


class Watch:
    """Samples a running build: images written over time, the parent's RSS, each worker's USS."""

    def __init__(self, process: subprocess.Popen, scribbles: Path, every: float = SAMPLE_EVERY_S) -> None:
        self.process, self.scribbles, self.every = process, scribbles, every
        self.started = time.monotonic()
        self.counts: list[tuple[float, int]] = []
        self.parent_rss = 0
        self.worker_uss: dict[int, int] = {}
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def written(self) -> int:
        if not self.scribbles.is_dir():
            return 0
        with os.scandir(self.scribbles) as entries:
            return sum(1 for e in entries if e.name.endswith(".png") and not e.name.startswith("."))

    def _run(self) -> None:
        parent = psutil.Process(self.process.pid)
        while self.process.poll() is None:
            try:
                self.parent_rss = max(self.parent_rss, parent.memory_info().rss)
                for child in parent.children():
                    uss = child.memory_full_info().uss
                    self.worker_uss[child.pid] = max(self.worker_uss.get(child.pid, 0), uss)
            except psutil.Error:
                pass
            self.counts.append((time.monotonic() - self.started, self.written()))
            time.sleep(self.every)

    def first_image_s(self) -> float | None:
        return next((t for t, n in self.counts if n > self.counts[0][1]), None) if self.counts else None

    def rate_between(self, start: float, end: float) -> float:
        """Images per second between two moments (seconds from the start) of the samples."""
        inside = [(t, n) for t, n in self.counts if start <= t <= end]
        if len(inside) < 2:
            return float("nan")
        (t0, n0), (t1, n1) = inside[0], inside[-1]
        return (n1 - n0) / (t1 - t0)

    def wait_for(self, images: int, timeout: float) -> bool:
        """Wait until ``images`` are written, by the samples (listing a folder of 60,000 files
        several times a second would take CPU from the build it measures)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.process.poll() is None:
            if self.counts and self.counts[-1][1] >= images:
                return True
            time.sleep(0.2)
        return False


def start_build(root: Path, out: Path, jobs: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "scribblesim", "build", "coco", "--root", str(root), "--split", SPLIT]
    command += ["--out", str(out), "--seeds", "1", "--jobs", str(jobs), "--no-progress"]
    return subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True
    )


def ended(process: subprocess.Popen, timeout: float = 120) -> dict:
    _, stderr = process.communicate(timeout=timeout)
    lines = [line for line in stderr.splitlines() if line.strip()]
    return {"exit": process.returncode, "lines": lines, "leaked_warning": "leaked" in stderr}


def baseline_rate(folder: Path, jobs: int, images: int, every: float) -> float:
    """Images/s of a whole build of ``images`` images, after its first image."""
    root = synthetic_root(folder / "small-root", images)
    out = folder / "small-out"
    process = start_build(root, out, jobs)
    watch = Watch(process, out / f"coco_{SPLIT}_scribble_r1", every)
    ended(process, timeout=3600)
    first = watch.first_image_s() or 0.0
    return watch.rate_between(first, float("inf"))


def run(
    images: int,
    jobs: int,
    stop_at: int | None,
    rerun_seconds: float,
    folder: Path,
    baseline_images: int,
    every: float = SAMPLE_EVERY_S,
) -> dict:
    baseline = baseline_rate(folder, jobs, baseline_images, every)
    root = synthetic_root(folder / "root", images)
    out = folder / "out"
    scribbles = out / f"coco_{SPLIT}_scribble_r1"
    process = start_build(root, out, jobs)
    watch = Watch(process, scribbles, every)
    stop_at = stop_at or images // 2
    watch.wait_for(stop_at, timeout=24 * 3600)
    stopped_s = time.monotonic() - watch.started
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
    interrupted = ended(process)
    first = watch.first_image_s()
    done = watch.written()
    # the rerun: when its first new image appears, and its rate after that
    process = start_build(root, out, jobs)
    rerun = Watch(process, scribbles, every)
    deadline = time.monotonic() + 1800
    while rerun.written() <= done and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.5)  # each look lists the whole folder: not so often that it slows the rerun
    first_new_s = time.monotonic() - rerun.started
    time.sleep(rerun_seconds)
    added = rerun.written() - done
    rerun_rate = rerun.rate_between(first_new_s, float("inf"))
    process.send_signal(signal.SIGTERM)  # to the command's process alone, as a batch scheduler does
    terminated = ended(process)
    return {
        "images": images,
        "jobs": jobs,
        "first_image_s": first,
        "parent_peak_rss_mb": watch.parent_rss / 2**20,
        "worker_peak_uss_mb": sorted(round(v / 2**20, 1) for v in watch.worker_uss.values()),
        "rate_after_first_minute": watch.rate_between(60.0, stopped_s),
        "baseline_images": baseline_images,
        "rate_baseline": baseline,
        "stopped_at_images": done,
        "stopped_after_s": stopped_s,
        "interrupted": interrupted,
        "rerun_first_new_image_s": first_new_s,
        "rerun_added_images": added,
        "rerun_rate": rerun_rate,
        "rerun_seconds": rerun_seconds,
        "rerun_parent_peak_rss_mb": rerun.parent_rss / 2**20,
        "rerun_worker_peak_uss_mb": sorted(round(v / 2**20, 1) for v in rerun.worker_uss.values()),
        "terminated": terminated,
    }


def table(result: dict) -> str:
    rate, base = result["rate_after_first_minute"], result["rate_baseline"]
    rows = [
        ("first image", f"{result['first_image_s']:.1f} s"),
        ("parent peak RSS", f"{result['parent_peak_rss_mb']:.0f} MB"),
        ("workers' peak USS", ", ".join(f"{v:.0f} MB" for v in result["worker_peak_uss_mb"])),
        (
            "images/s after the first minute",
            f"{rate:.1f} ({100 * rate / base:.0f} % of {base:.1f} at {result['baseline_images']:,} images)",
        ),
        (
            f"Ctrl-C at {result['stopped_at_images']:,} images",
            f"exit {result['interrupted']['exit']}, {len(result['interrupted']['lines'])} line(s): "
            f"{' | '.join(result['interrupted']['lines'])}",
        ),
        ("rerun: first new image", f"{result['rerun_first_new_image_s']:.1f} s after its start"),
        (
            "rerun: images/s after it",
            f"{result['rerun_rate']:.1f} ({result['rerun_added_images']:,} added in {result['rerun_seconds']:.0f} s)",
        ),
        (
            "SIGTERM to the rerun",
            f"exit {result['terminated']['exit']}, {len(result['terminated']['lines'])} line(s): "
            f"{' | '.join(result['terminated']['lines'])}; leaked-memory warning: {result['terminated']['leaked_warning']}",
        ),
    ]
    lines = [
        f"scribblesim build coco, {result['images']:,} images, {result['jobs']} jobs",
        "| | measured |",
        "|---|---|",
    ]
    return "\n".join(lines + [f"| {k} | {v} |" for k, v in rows])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=120_000)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--stop-at", type=int, default=None, help="Ctrl-C once this many images are written.")
    parser.add_argument("--rerun-seconds", type=float, default=60.0)
    parser.add_argument("--baseline-images", type=int, default=2000, help="Images of the build to compare rates with.")
    parser.add_argument("--work", type=Path, default=None, help="Folder to build in (default: a temporary one).")
    parser.add_argument("--sample-every", type=float, default=SAMPLE_EVERY_S, help="Seconds between samples.")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    folder = args.work or Path(tempfile.mkdtemp(prefix="scale-"))
    try:
        result = run(
            args.images, args.jobs, args.stop_at, args.rerun_seconds, folder, args.baseline_images, args.sample_every
        )
    finally:
        if args.work is None:
            shutil.rmtree(folder, ignore_errors=True)
    print(json.dumps(result, indent=1) if args.json else table(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`scribblesim build coco` side by side with the reference simulator: whole commands, one core each.

The reference (ScribbleSimulation at 31b8ffc, withdrawn; never shipped here) runs from its
own folder in its own environment, as issue 22 ran it: numpy<2 and scikit-image<0.23.
Each round runs our command at 1 seed and at 3 seeds twice, then the reference once, then
ours twice again, one after the other on the same core, so that the machine's drift
(tens of percent from minute to minute here) falls on both sides. The speed-up is the
reference's seconds (three times them for 3 seeds: one run per annotator) over ours, for
the fastest and the slowest of our runs around it.

    python benchmarks/versus_reference.py --reference DIR --reference-python PY \\
        [--root COCO --split train2017] [--limit 100] [--rounds 1] [--core 0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root

# the sibling benchmark script (the script's folder is on sys.path)
from build import command_environment, limited_root

REFERENCE_SCRIPT = "generate_scribble_frominstanceCOCO_random_mp.py"
SEED_SETS = ((1,), (1, 2, 3))


def _timed(command: list[str], core: int, cwd: Path | None = None) -> float:
    """Wall seconds of ``command`` on CPU ``core`` alone; a failure stops the benchmark."""
    start = time.perf_counter()
    run = subprocess.run(
        command,
        cwd=cwd,
        env=command_environment(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.sched_setaffinity(0, {core}),
    )
    seconds = time.perf_counter() - start
    if run.returncode != 0:
        raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{run.stderr[-2000:]}")
    return seconds


def ours(root: Path, split: str, seeds: tuple[int, ...], out: Path, core: int) -> float:
    """Seconds of ``scribblesim build coco`` at ``seeds``, one job, into a fresh ``out``."""
    shutil.rmtree(out, ignore_errors=True)
    command = [sys.executable, "-m", "scribblesim", "build", "coco", "--root", str(root), "--split", split]
    command += ["--out", str(out), "--jobs", "1", "--no-progress", "--seeds", *map(str, seeds)]
    return _timed(command, core)


def reference(code: Path, python: str, root: Path, split: str, out: Path, core: int) -> float:
    """Seconds of one reference run (one annotator, one worker) from its folder ``code``."""
    shutil.rmtree(out, ignore_errors=True)
    command = [python, REFERENCE_SCRIPT, "--dataDir", str(root), "--dataType", split, "--save_dir", str(out)]
    return _timed(command + ["--random", "True", "--numworkers", "1"], core, cwd=code)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reference", type=Path, required=True, help="The reference simulator's folder.")
    parser.add_argument("--reference-python", required=True, help="The Python of the reference's environment.")
    parser.add_argument("--root", type=Path, help="A COCO root (default: the embedded sample).")
    parser.add_argument("--split", default=None)
    parser.add_argument("--limit", type=int, help="Keep the first N images.")
    parser.add_argument("--rounds", type=int, default=1, help="Reference runs (default 1, minutes each).")
    parser.add_argument("--core", type=int, default=0, help="The CPU every command runs on (default 0).")
    parser.add_argument("--json", action="store_true", help="Print the figures as JSON instead of a table.")
    args = parser.parse_args()
    if not (args.reference / REFERENCE_SCRIPT).is_file():
        raise SystemExit(f"--reference: {args.reference / REFERENCE_SCRIPT} not found")
    if args.core not in os.sched_getaffinity(0):
        raise SystemExit(f"--core {args.core}: not one of this process's CPUs {sorted(os.sched_getaffinity(0))}")
    split = args.split or (COCO_SAMPLE_SPLIT if args.root is None else "val2017")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        root = limited_root((args.root or coco_sample_root()).resolve(), split, args.limit, work / "root")
        rounds = []
        for _ in range(args.rounds):
            before = [ours(root, split, seeds, work / "ours", args.core) for _ in range(2) for seeds in SEED_SETS]
            theirs = reference(args.reference, args.reference_python, root, split, work / "ref", args.core)
            after = [ours(root, split, seeds, work / "ours", args.core) for _ in range(2) for seeds in SEED_SETS]
            runs = before + after  # 1 seed, 3 seeds, 1 seed, 3 seeds, ...
            mine = {str(len(seeds)): runs[k :: len(SEED_SETS)] for k, seeds in enumerate(SEED_SETS)}
            rounds.append({"reference_s": theirs, "ours_s": mine})
    rows = []
    for number, run in enumerate(rounds, 1):
        for seeds, times in run["ours_s"].items():
            theirs = run["reference_s"] * int(seeds)
            rows.append(
                {
                    "round": number,
                    "seeds": int(seeds),
                    "reference_s": theirs,
                    "ours_s": times,
                    "speed_up_range": [theirs / max(times), theirs / min(times)],
                }
            )
    if args.json:
        print(json.dumps({"split": split, "limit": args.limit, "core": args.core, "rows": rows}, indent=1))
        return
    print(f"{split}{f' (first {args.limit} images)' if args.limit else ''}, whole commands on CPU {args.core}\n")
    print(f"{'round':>5} {'seeds':>5} {'reference s':>12} {'ours s':>26} {'speed-up':>14}")
    for row in rows:
        times = " ".join(f"{t:.2f}" for t in row["ours_s"])
        low, high = row["speed_up_range"]
        print(f"{row['round']:>5} {row['seeds']:>5} {row['reference_s']:12.1f} {times:>26} {low:6.0f}-{high:.0f}x")


if __name__ == "__main__":
    main()

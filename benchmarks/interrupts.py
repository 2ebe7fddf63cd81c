"""Ctrl-C at random moments of a build: every stop exits 130 in one line, and a rerun finishes it.

    python benchmarks/interrupts.py [--root COCO --split val2017] [--trials 30] [--seeds 1 2 3] [--json]

Each trial starts ``scribblesim build coco`` with one job into a fresh folder, sends SIGINT
to its process group after a random 0.2-3 s, and records its exit status and stderr
(a build that ended first counts as such, and so does one that ends with status 0 and
nothing on stderr after the stop was sent: the stop came after its work, which must then be
complete). Then it reruns every interrupted build to the
end and compares its files with one uninterrupted build's. Without ``--root``: the
embedded sample.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def command(out: Path, root: Path | None, split: str | None, seeds: list[str]) -> list[str]:
    where = ["--root", str(root), "--split", split] if root is not None and split is not None else []
    return [sys.executable, "-m", "scribblesim", "build", "coco", *where, "--seeds", *seeds, "--jobs", "1",
            "--no-progress", "--out", str(out)]  # fmt: skip


def files(out: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(out)): os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
        for p in sorted(out.rglob("*"))
        if (p.is_file() or p.is_symlink()) and not str(p.relative_to(out)).startswith(".scribblesim")
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, default=None)
    parser.add_argument("--split", default=None)
    parser.add_argument("--trials", type=int, default=30)
    parser.add_argument("--seeds", nargs="+", default=["1", "2", "3"])
    parser.add_argument("--random-seed", type=int, default=0)
    parser.add_argument("--rerun-every", type=int, default=1, help="Rerun every Nth trial to the end (default 1: all).")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    chance = random.Random(args.random_seed)
    folder = Path(tempfile.mkdtemp(prefix="interrupts-"))
    try:
        whole = folder / "whole"
        subprocess.run(command(whole, args.root, args.split, args.seeds), check=True, capture_output=True)
        reference = files(whole)
        trials = []
        for trial in range(args.trials):
            out = folder / f"trial{trial}"
            after = chance.uniform(0.2, 3.0)
            process = subprocess.Popen(
                command(out, args.root, args.split, args.seeds),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                start_new_session=True,
            )
            time.sleep(after)
            ended_first = process.poll() is not None
            if not ended_first:
                os.killpg(process.pid, signal.SIGINT)
            try:
                _, stderr = process.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                _, stderr = process.communicate()
                stderr = "HUNG " + stderr
            lines = [line for line in stderr.splitlines() if line.strip()]
            finished = process.returncode == 0 and not lines
            rerun = (
                subprocess.run(command(out, args.root, args.split, args.seeds), capture_output=True, text=True)
                if trial % args.rerun_every == 0
                else None
            )
            trials.append(
                {
                    "after_s": round(after, 2),
                    "ended_first": ended_first or finished,
                    "stop_sent": not ended_first,
                    "exit": process.returncode,
                    "complete": files(out) == reference if finished else None,
                    "lines": lines,
                    "rerun_exit": None if rerun is None else rerun.returncode,
                    "rerun_equal": None if rerun is None else rerun.returncode == 0 and files(out) == reference,
                }
            )
            shutil.rmtree(out, ignore_errors=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    good = [
        t
        for t in trials
        if (
            (t["ended_first"] and t["exit"] == 0 and t["complete"])
            or (t["exit"] == 130 and t["lines"] == ["error: interrupted"])
        )
        and t["rerun_equal"] is not False
    ]
    summary = {"trials": len(trials), "as_promised": len(good), "runs": trials}
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        stopped = sum(not t["ended_first"] for t in trials)
        reruns = sum(t["rerun_equal"] is not None for t in trials)
        print(
            f"{len(good)} of {len(trials)} trials as promised: {stopped} stopped mid-build with exit 130 in one line,"
        )
        print(f"the others ended first; {reruns} reruns to the end, each equal to an uninterrupted build")
        for t in trials:
            if t not in good:
                print(f"  after {t['after_s']} s: exit {t['exit']}, {t['lines'][-3:]}, rerun {t['rerun_exit']}")
    return 0 if len(good) == len(trials) else 1


if __name__ == "__main__":
    sys.exit(main())

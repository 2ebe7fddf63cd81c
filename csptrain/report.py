"""Table II/III style rows: mIoU per seed (run), mean and standard deviation."""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path

EVAL_FILE = "eval.json"


def read_runs(run_dirs: Sequence[Path]) -> list[tuple[str, float]]:
    """(run name, mIoU in %) of each run's ``eval.json``."""
    rows = []
    for run in map(Path, run_dirs):
        path = run / EVAL_FILE
        try:
            rows.append((run.name, 100.0 * float(json.loads(path.read_text())["miou"])))
        except FileNotFoundError:
            raise ValueError(f"{path}: no evaluation; run csptrain eval first") from None
        except (ValueError, KeyError) as error:
            raise ValueError(f"{path}: unreadable evaluation ({error})") from None
    return rows


def format_report(rows: Sequence[tuple[str, float]]) -> str:
    """Per-run mIoU, then mean and (sample) standard deviation over runs."""
    values = [v for _, v in rows]
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    width = max(len(name) for name, _ in rows)
    lines = [f"{'run':<{width}}  mIoU (%)"] + [f"{name:<{width}}  {value:8.2f}" for name, value in rows]
    lines.append(f"{'mean ± std':<{width}}  {statistics.mean(values):.2f} ± {std:.2f}")
    return "\n".join(lines)

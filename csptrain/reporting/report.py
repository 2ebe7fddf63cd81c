"""Table II/III style reports: mIoU per seed (run), mean and standard deviation."""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from ..errors import DataError
from ..runs import TrainingRun
from ..stage2.protocol import describe_protocol


@dataclass(frozen=True)
class RunResult:
    """One run's numbers, in %: stage-2 mIoU and, when known, its pseudo-labels' mIoU (Table VII).

    ``protocol`` names the evaluation protocol the mIoU was measured under.
    """

    name: str
    miou: float
    pseudo_miou: float = math.nan
    uncertain_share: float = math.nan
    protocol: str = ""


def read_runs(run_dirs: Sequence[Path]) -> list[RunResult]:
    """The mIoU of each training run's evaluation record and the protocol it names."""
    rows = []
    for run in map(Path, run_dirs):
        path = TrainingRun(run).evaluation_file
        try:
            record = json.loads(path.read_text())
            rows.append(
                RunResult(run.name, 100.0 * float(record["miou"]), protocol=describe_protocol(record.get("protocol")))
            )
        except FileNotFoundError:
            raise DataError(f"{path}: no evaluation; run csptrain eval first") from None
        except (ValueError, KeyError, TypeError) as error:
            raise DataError(f"{path}: unreadable evaluation ({error})") from None
    return rows


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    return statistics.mean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def format_report(rows: Sequence[RunResult]) -> str:
    """Per-run mIoU (and pseudo-label mIoU where known), then mean ± (sample) std over runs,
    then the evaluation protocol (each run's, when they differ).
    """
    with_pseudo = any(not math.isnan(r.pseudo_miou) for r in rows)
    width = max(len("mean ± std"), *(len(r.name) for r in rows))
    header = f"{'run':<{width}}  {'mIoU (%)':>14}" + (
        f"  {'pseudo mIoU (%)':>15}  {'uncertain (%)':>13}" if with_pseudo else ""
    )
    lines = [header]
    for r in rows:
        line = f"{r.name:<{width}}  {r.miou:14.2f}"
        if with_pseudo:
            line += f"  {r.pseudo_miou:15.2f}  {r.uncertain_share:13.2f}"
        lines.append(line)
    mean, std = _mean_std([r.miou for r in rows])
    line = f"{'mean ± std':<{width}}  {f'{mean:.2f} ± {std:.2f}':>14}"
    if with_pseudo:
        pseudo_mean, pseudo_std = _mean_std([r.pseudo_miou for r in rows])
        line += f"  {f'{pseudo_mean:.2f} ± {pseudo_std:.2f}':>15}"
    lines.append(line)
    protocols = sorted({r.protocol for r in rows if r.protocol})
    if len(protocols) == 1:
        lines.append(f"evaluation: {protocols[0]}")
    elif protocols:  # a mean over different protocols compares unlike numbers: say which is which
        lines.append("evaluation protocols differ: " + "; ".join(f"{r.name}: {r.protocol}" for r in rows))
    return "\n".join(lines)


def report_json(rows: Sequence[RunResult], split: str) -> dict:
    """The report as JSON: the runs, and mean/std of both mIoUs."""
    mean, std = _mean_std([r.miou for r in rows])
    pseudo_mean, pseudo_std = _mean_std([r.pseudo_miou for r in rows])
    return {
        "split": split,
        "runs": [asdict(r) for r in rows],
        "miou_mean": mean,
        "miou_std": std,
        "pseudo_miou_mean": pseudo_mean,
        "pseudo_miou_std": pseudo_std,
    }

"""Rows of the learning benchmark over training seeds, summarised as mean ± std.

Every seed of every row trains the same steps as the first run of its kind: the first
stage-2-only row's probe sets the steps of ``full`` and every ``pce-*`` row (they cost the
same per step), the first CSPNet row's probes set the stage-1 and stage-2 steps of every
CSPNet row. So rows compared in a table differ in their labels, not in their steps, and
wall-clock noise between probes does not reach them.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from lab.learning import RowRun, train_row
from lab.rows import simulated_row


def spread(values: Sequence[float]) -> dict[str, float]:
    """Mean, sample standard deviation (0 for one value) and count."""
    return {
        "mean": statistics.fmean(values),
        "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        "n": len(values),
    }


def seeded(row: RowRun, seed: int) -> RowRun:
    """``row`` trained with training seed ``seed``, in a folder of its own."""
    return replace(
        row, name=f"{row.name} seed {seed}", config=replace(row.config, seed=seed), work=row.work / f"seed{seed}"
    )


def summarise_runs(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A row's runs (one per seed) as mean and std of mIoU, Dice and each class's IoU, with the runs kept."""
    classes = range(len(runs[0]["iou"]))
    per_class = [spread([run["iou"][k] for run in runs]) for k in classes]
    miou, dice = spread([run["miou"] for run in runs]), spread([run["dice"] for run in runs])
    return {
        "labels": runs[0]["labels"],
        "steps": runs[0]["steps"],
        "n": len(runs),
        "miou": miou["mean"],
        "miou_std": miou["std"],
        "dice": dice["mean"],
        "dice_std": dice["std"],
        "iou": [cell["mean"] for cell in per_class],
        "iou_std": [cell["std"] for cell in per_class],
        "train_s": statistics.fmean(run["train_s"] for run in runs),
        "runs": list(runs),
    }


def train_rows(
    rows: Sequence[RowRun], budget_s: float | None, repeats: int, *, steps: int | None = None
) -> dict[str, dict[str, Any]]:
    """Train every row for ``repeats`` training seeds (``row.config.seed`` and the ones after it).

    Parameters
    ----------
    rows
        The rows, each with its own work folder (a seed's runs go to ``seed{N}`` in it).
    budget_s
        Seconds per run (a CSPNet run's stage 1, pseudo-labels and stage 2 together); None
        trains the configs' whole schedules.
    repeats
        Training seeds per row.
    steps
        Steps of every stage-2-only run instead of a probe's count (an earlier table's, so
        that more rows join it at its steps); CSPNet rows still plan on their budget.

    Returns
    -------
    dict
        Per row name, :func:`summarise_runs` of its runs; each run is what
        :func:`~lab.learning.train_row` returns, with its ``seed``.
    """
    plans: dict[bool, dict[str, Any]] = {} if steps is None else {False: {"steps": steps}}
    results = {}
    for row in rows:
        kind = row.name.startswith("cspnet")
        runs = []
        for seed in range(row.config.seed, row.config.seed + repeats):
            run = train_row(seeded(row, seed), budget_s, plans.get(kind))
            plans.setdefault(kind, {"steps": run["steps"], "stage1_steps": run.get("stage1_steps")})
            runs.append({"seed": seed, **run})
        results[row.name] = summarise_runs(runs)
    return results


def annotator_means(results: dict[str, dict[str, Any]], sim_tags: Sequence[str]) -> dict[str, dict[str, float]]:
    """Per ``*-sim`` row trained on several simulated sets, the mean and std of its annotators' mean mIoUs.

    Keyed ``pce-sim (s1, s2, s3)``: the paper's mean and std columns over annotators. Empty
    with fewer than two sets.
    """
    if len(sim_tags) < 2:
        return {}
    means = {}
    for kind in ("pce", "cspnet"):
        names = [simulated_row(f"{kind}-sim", tag) for tag in sim_tags]
        if all(name in results for name in names):
            label = f"{kind}-sim ({', '.join(f's{tag}' for tag in sim_tags)})"
            means[label] = spread([results[name]["miou"] for name in names])
    return means

"""The picture of a report: per-run mIoU with mean and std, per-class IoU, and each run's loss and learning rate.

Read from the runs' own records: the evaluation record (``csptrain eval``) and the
TensorBoard scalars the training logged (``train/loss``, ``train/lr``).
"""

from __future__ import annotations

import io
import json
import statistics
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..runs import TrainingRun


def training_curves(run: Path) -> dict[str, tuple[list[int], list[float]]]:
    """``loss`` and ``lr`` of a run as (steps, values), from its TensorBoard events (empty without them)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    folder = TrainingRun(run).tensorboard
    if not folder.is_dir():
        return {}
    events = EventAccumulator(str(folder), size_guidance={"scalars": 0})
    events.Reload()
    tags = set(events.Tags().get("scalars", []))
    curves = {}
    for name in ("loss", "lr"):
        if f"train/{name}" in tags:
            scalars = events.Scalars(f"train/{name}")
            curves[name] = ([s.step for s in scalars], [s.value for s in scalars])
    return curves


def report_png(run_dirs: Sequence[Path], class_names: Sequence[str] | None = None) -> bytes:
    """PNG bytes: per-run mIoU (bars) with the mean ± sample std, mean per-class IoU ± std, loss and lr curves.

    ``run_dirs`` are training runs with an evaluation record (as :func:`csptrain.reporting.report.read_runs`
    reads them); ``class_names`` label the classes (else their ids).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    records = [json.loads(TrainingRun(run).evaluation_file.read_text()) for run in map(Path, run_dirs)]
    names = [Path(run).name if Path(run).name != "stage2" else Path(run).parent.name for run in run_dirs]
    figure = Figure(figsize=(12, 7.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    (runs_ax, class_ax), (loss_ax, lr_ax) = figure.subplots(2, 2)
    mious = [100 * float(r["miou"]) for r in records]
    mean = statistics.fmean(mious)
    std = statistics.stdev(mious) if len(mious) > 1 else 0.0
    runs_ax.bar(range(len(mious)), mious, color="tab:blue")
    runs_ax.axhline(mean, color="black")
    runs_ax.axhspan(mean - std, mean + std, color="grey", alpha=0.3)
    runs_ax.set_xticks(range(len(mious)), names)
    runs_ax.set(ylabel="mIoU (%)", title=f"mIoU per run: {mean:.2f} ± {std:.2f} (n={len(mious)})")
    ious = np.array([[np.nan if v is None else 100 * float(v) for v in r["iou"]] for r in records])
    present = ~np.isnan(ious).all(0)
    columns = np.flatnonzero(present)
    labels = [class_names[k] if class_names and k < len(class_names) else str(k) for k in map(int, columns)]
    with warnings.catch_warnings():  # a class scored in one run only has no spread: nan, no bar
        warnings.simplefilter("ignore", RuntimeWarning)
        spread = np.nanstd(ious[:, columns], axis=0, ddof=1) if len(records) > 1 else np.zeros(len(columns))
        means = np.nanmean(ious[:, columns], axis=0)
    class_ax.bar(range(len(columns)), means, yerr=np.nan_to_num(spread), color="tab:green", capsize=2)
    class_ax.set_xticks(range(len(columns)), labels, rotation=90, fontsize=6 if len(columns) > 30 else 8)
    class_ax.set(ylabel="IoU (%)", title="per-class IoU, mean ± std over runs")
    for name, run in zip(names, run_dirs):
        curves = training_curves(Path(run))
        for key, ax in (("loss", loss_ax), ("lr", lr_ax)):
            if key in curves:
                ax.plot(*curves[key], label=name)
    loss_ax.set(xlabel="step", ylabel="loss", title="training loss (weighted sum of the terms)")
    lr_ax.set(xlabel="step", ylabel="learning rate", title="learning rate")
    for ax in (loss_ax, lr_ax):
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=7)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()

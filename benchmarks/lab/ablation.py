"""Table VI on a build: stage 2 with each line's loss terms on one shared set of pseudo-labels.

Per annotator (a scribble set), stage 1 trains once on its scribbles and labels the train
split once (unless no line reads pseudo-labels: line 1 alone is partial CE); every line and
training seed then trains stage 2 on those pseudo-labels for the same number of steps (one
probe of the costliest line sets it), with the same crops in the same order for a seed (the
seed draws them), and is scored on the val split.
"""

from __future__ import annotations

import io
import statistics
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from csptrain.catalog import LOSS_TERMS, PSEUDO_LABEL_TERMS, UNCERTAIN_PIXELS
from csptrain.data.layout import class_names_of, scribble_folder
from csptrain.errors import ConfigError
from lab.learning import (
    CURVE,
    RowRun,
    evaluate_run,
    stage2_step_cost,
    train_stage1_and_pseudo,
    train_stage2_row,
)
from lab.repeats import spread

#: The loss terms of each line of the paper's Table VI (line 1: partial CE alone; 10: every term).
TABLE_VI: dict[int, tuple[str, ...]] = {
    1: ("segs",),
    2: ("segc",),
    3: ("segs", "segc"),
    4: ("segs", "segc", "ds"),
    5: ("segs", "segc", "dc"),
    6: ("segs", "segc", "ds", "lorm"),
    7: ("segs", "segc", "dc", "lorm"),
    8: ("segs", "segc", "lorm"),
    9: ("segs", "segc", "ds", "dc"),
    10: LOSS_TERMS,
}


def parse_lines(text: str) -> tuple[int, ...]:
    """``"1,10"`` as lines of :data:`TABLE_VI`; a one-line :class:`ConfigError` otherwise."""
    try:
        lines = tuple(dict.fromkeys(int(part) for part in text.split(",") if part.strip()))
    except ValueError:
        lines = ()
    if not lines or any(line not in TABLE_VI for line in lines):
        raise ConfigError(f"--ablation {text!r}: give lines of Table VI, 1 to 10, e.g. 1,10")
    return lines


def line_folder(line: int, seed: int, uncertain: str = UNCERTAIN_PIXELS[0]) -> str:
    """A line's run folder: a run whose L_segc made uncertain pixels something else never shares it."""
    return f"line{line}-seed{seed}" + ("" if uncertain == UNCERTAIN_PIXELS[0] else f"-uncertain-{uncertain}")


def annotator_labels(data: Path, annotator: str) -> str:
    """The train scribble folder of an annotator: ``human`` (the experts' set) or ``s1``, ``s2`` ... (simulated seeds)."""
    tag = annotator if annotator == "human" else annotator.removeprefix("s")
    if tag != "human" and not tag.isdigit():
        raise ConfigError(f"--annotators {annotator!r}: give human or s1, s2, ... (simulated seeds)")
    return scribble_folder(data, "train", tag)


def run_ablation(
    base: RowRun,
    annotators: Sequence[str],
    lines: Sequence[int],
    repeats: int,
    budget_s: float | None,
    stage1_budget_s: float | None,
    *,
    steps: int | None = None,
    stage1_steps: int | None = None,
    pseudo_source: str = "cam",
) -> dict[str, Any]:
    """Train and score Table VI's ``lines`` for every annotator and training seed.

    Parameters
    ----------
    base
        The stage-2 config (its seed is the first training seed), settings, build, work
        folder and process every run shares; its name and labels are not used.
    annotators
        ``human``, ``s1``, ``s2`` ...: whose scribbles stage 1 and every line learn from.
    lines
        Lines of :data:`TABLE_VI`.
    repeats
        Training seeds per line: ``base.config.seed`` and the ones after it.
    budget_s
        Seconds of stage-2 steps per line (a probe of the costliest line times them); None
        trains the config's whole schedule.
    stage1_budget_s
        Seconds of stage-1 steps per annotator; None trains the preset's schedule.
    steps, stage1_steps
        Steps of every line (of stage 1) instead of a probe's count: an earlier run's, so that
        more lines join its table at the same steps (in its work folder, stage 1 and the
        pseudo-labels are found done).
    pseudo_source
        Where the shared pseudo-labels come from (:data:`~csptrain.catalog.PSEUDO_SOURCES`).

    Returns
    -------
    dict
        ``ablation``: per line, annotator and seed, ``miou``, ``dice``, ``iou``, ``steps`` and
        the learning ``curve``; ``pseudo``: per annotator, ``pseudo_miou`` (its pseudo-labels
        against the dense ground truth of the train split; None where no line reads
        pseudo-labels and stage 1 was not trained), ``pce_miou`` (line 1's own
        predictions on the same slices, the mean over seeds; None without line 1),
        ``uncertain_share``, ``stage1_steps`` and ``stage1_s``; ``steps``: per annotator, the
        stage-2 steps of every line.
    """
    if repeats < 1:
        raise ConfigError(f"--repeats must be >= 1, got {repeats}")
    classes = len(class_names_of(base.data))
    costliest = max(lines, key=lambda line: (len(TABLE_VI[line]), "lorm" in TABLE_VI[line]))
    results: list[dict[str, Any]] = []
    pseudo_summary: dict[str, dict[str, Any]] = {}
    steps_of: dict[str, int | None] = {}
    for annotator in annotators:
        labels = annotator_labels(base.data, annotator)
        work = base.work / annotator
        row = replace(base, name=f"{annotator}", labels=labels, work=work)
        pseudo: Path | None = None
        summary: dict[str, Any] = {"miou": None, "uncertain_share": None, "stage1_steps": 0}
        stage1_s = 0.0  # stage 1 and its pseudo-labels
        if any(PSEUDO_LABEL_TERMS.intersection(TABLE_VI[line]) for line in lines):
            pseudo, summary = train_stage1_and_pseudo(row, stage1_budget_s, stage1_steps, pseudo_source)
            stage1_s = summary["stage1_s"] + summary["pseudo_s"]
        line_steps = steps
        if line_steps is None and budget_s is not None:
            costliest_row = replace(row, config=replace(row.config, losses=TABLE_VI[costliest]))
            cost = stage2_step_cost(costliest_row, pseudo, work / "probe2")
            line_steps = cost.steps_for(budget_s, starts=len(CURVE))
            base.log(
                f"{annotator}: line {costliest} {cost.step_s:.2f} s per step, {cost.start_s:.1f} s per start "
                f"-> {line_steps} steps for every line"
            )
        steps_of[annotator] = line_steps
        pce: list[float] = []
        for seed in range(base.config.seed, base.config.seed + repeats):
            for line in lines:
                config = replace(base.config, losses=TABLE_VI[line], seed=seed)
                line_row = replace(
                    row,
                    name=f"{annotator} line {line} seed {seed}",
                    config=config,
                    work=work / line_folder(line, seed, config.uncertain),
                )
                result = train_stage2_row(line_row, pseudo, budget_s, steps=line_steps)
                results.append(
                    {
                        "line": line,
                        "annotator": annotator,
                        "seed": seed,
                        **{k: result[k] for k in ("miou", "dice", "iou", "steps", "curve")},
                    }
                )
                if line == 1:
                    train_scores = evaluate_run(
                        base.data, line_row.work / "stage2", "train", base.settings, classes, base.process
                    )
                    pce.append(train_scores["miou"])
        pseudo_summary[annotator] = {
            "pseudo_miou": summary["miou"],
            "pce_miou": statistics.fmean(pce) if pce else None,
            "uncertain_share": summary["uncertain_share"],
            "stage1_steps": summary["stage1_steps"],
            "stage1_s": round(stage1_s, 1),
        }
    return {"ablation": results, "pseudo": pseudo_summary, "steps": steps_of}


def summarise(ablation: Sequence[dict[str, Any]], key: str = "miou") -> dict[int, dict[str, dict[str, float]]]:
    """Per line and annotator, the mean, sample std (0 for one run) and count of ``key`` over seeds.

    Each line also gets ``"all"``: the mean and std of its annotators' means (the paper's
    mean and std columns).
    """
    table: dict[int, dict[str, dict[str, float]]] = {}
    for line in dict.fromkeys(r["line"] for r in ablation):
        cells: dict[str, dict[str, float]] = {}
        for annotator in dict.fromkeys(r["annotator"] for r in ablation):
            values = [r[key] for r in ablation if r["line"] == line and r["annotator"] == annotator]
            if values:
                cells[annotator] = spread(values)
        cells["all"] = spread([cell["mean"] for cell in cells.values()])
        table[line] = cells
    return table


def ablation_png(ablation: Sequence[dict[str, Any]]) -> bytes:
    """The learning curves of every run and each line's mIoU with its spread over seeds; PNG bytes.

    Left: val mIoU against stage-2 steps, a colour per line, a line style per annotator.
    Right: per line and annotator, each seed's final mIoU (dots) and their mean ± std.
    """
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11, 4.2), dpi=110, layout="constrained")
    FigureCanvasAgg(figure)
    curves, finals = figure.subplots(1, 2)
    lines = list(dict.fromkeys(r["line"] for r in ablation))
    annotators = list(dict.fromkeys(r["annotator"] for r in ablation))
    colours = matplotlib.colormaps["tab10"]
    styles = ["-", "--", ":", "-."]
    for r in ablation:
        colour = colours(lines.index(r["line"]) % 10)
        style = styles[annotators.index(r["annotator"]) % len(styles)]
        steps = [p["step"] for p in r["curve"]]
        curves.plot(steps, [100 * p["miou"] for p in r["curve"]], style, color=colour, marker="o", ms=3, alpha=0.8)
    for line in lines:
        curves.plot(
            [], [], "-", color=colours(lines.index(line) % 10), label=f"line {line}: {'+'.join(TABLE_VI[line])}"
        )
    for annotator in annotators:
        curves.plot([], [], styles[annotators.index(annotator) % len(styles)], color="grey", label=annotator)
    curves.set(xlabel="stage-2 step", ylabel="val mIoU (%)", title="learning curves")
    curves.legend(fontsize=7)
    width, markers = 0.8 / max(1, len(annotators)), ["s", "^", "D", "v"]
    for a, annotator in enumerate(annotators):
        for x, line in enumerate(lines):
            values = [100 * r["miou"] for r in ablation if r["line"] == line and r["annotator"] == annotator]
            if not values:
                continue
            cell = spread(values)
            position = x + (a - (len(annotators) - 1) / 2) * width
            marker = markers[a % len(markers)]
            finals.errorbar(position, cell["mean"], yerr=cell["std"], fmt=marker, color=colours(x % 10), capsize=4)
            finals.plot([position] * len(values), values, ".", color="black", alpha=0.6)
        finals.plot([], [], markers[a % len(markers)], color="grey", label=annotator)
    finals.legend(fontsize=7)
    finals.set_xticks(range(len(lines)), [f"line {line}" for line in lines])
    finals.set(ylabel="val mIoU (%)", title=f"Table VI lines: mean ± std over seeds ({', '.join(annotators)})")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def format_ablation(ablation: Sequence[dict[str, Any]]) -> str:
    """Table VI as the paper prints it: per line its terms, each annotator's mIoU, their mean and std.

    Each annotator's cell is the mean ± std over training seeds (n); ``mean`` and ``std`` are
    over the annotators' means.
    """
    table = summarise(ablation)
    annotators = list(dict.fromkeys(r["annotator"] for r in ablation))
    header = ["line", "terms", *annotators, "mean", "std"]
    rows = []
    for line, cells in table.items():
        row = [str(line), "+".join(TABLE_VI[line])]
        for annotator in annotators:
            cell = cells.get(annotator)
            row.append(f"{100 * cell['mean']:.2f} ± {100 * cell['std']:.2f} (n={cell['n']:.0f})" if cell else "-")
        row += [f"{100 * cells['all']['mean']:.2f}", f"{100 * cells['all']['std']:.2f}"]
        rows.append(row)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    return "\n".join("  ".join(value.ljust(width) for value, width in zip(r, widths)) for r in [header, *rows])

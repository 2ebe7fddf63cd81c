"""One row of the learning benchmark (``benchmarks/learning.py``): trained for a time budget, scored on a curve.

A row trains a stage-2 model from scratch on a build's train split and is evaluated on its
val split at :data:`CURVE`'s fractions of its steps: mIoU, per-class IoU and the mean Dice
per 3D volume. A CSPNet row first trains stage 1 for :data:`STAGE1_SHARE` of the budget and
generates its pseudo-labels, then trains stage 2 with every loss term.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from csptrain.catalog import LOSS_TERMS
from csptrain.data.layout import class_names_of, read_split
from csptrain.runs import TrainingRun
from csptrain.runtime.process import Process
from csptrain.runtime.settings import RunSettings
from csptrain.stage1.config import Stage1Config, make_stage1_config
from csptrain.stage1.pseudo import generate_pseudo_labels
from csptrain.stage1.train import train_stage1
from csptrain.stage2.config import Stage2Config
from csptrain.stage2.evaluate import evaluate
from csptrain.stage2.protocol import protocol_for
from csptrain.stage2.train import load_stage2_model, stage2_schedule, train_stage2
from lab.budget import PROBE_STEPS, StepCost, budget_config, probe_step_cost
from lab.volumes import volume_dice

#: How the rows' runs run unless their settings say otherwise: no progress bars.
QUIET = RunSettings(progress=False)
#: Share of a CSPNet row's budget that stage 1 trains for; pseudo-labels and stage 2 share the rest.
STAGE1_SHARE = 0.4
#: Points of the learning curve, as fractions of the row's steps.
CURVE = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True)
class Settings:
    """The stage-2 settings every row shares, stage 1's for CSPNet rows, and how rows are evaluated.

    Attributes
    ----------
    name
        What the settings are called in the report.
    overrides
        Stage-2 config fields over the ``acdc`` preset.
    protocol
        The evaluation protocol's name.
    eval_scales
        Its scales (empty: the protocol's own).
    stage1
        Stage-1 config fields over the ``acdc`` preset (CSPNet rows).
    run
        How stage 2 runs (its ``max_steps`` is set per call).
    stage1_run
        How stage 1 runs.
    probe_steps
        Steps of a budget probe's shorter timed call (see
        :func:`~lab.budget.probe_step_cost`).
    """

    name: str
    overrides: dict[str, Any] = field(default_factory=dict)
    protocol: str = "single-scale"
    eval_scales: tuple[float, ...] = ()
    stage1: dict[str, Any] = field(default_factory=dict)
    run: RunSettings = QUIET
    stage1_run: RunSettings = QUIET
    probe_steps: int = PROBE_STEPS

    def describe(self, config: Stage2Config) -> str:
        """One line on the model, the crops, the optimiser and the evaluation of ``config``."""
        model = (
            "UNet (WSL4MIS)" if config.segmentor == "unet" else f"DeepLabV3+ {config.backbone} OS{config.output_stride}"
        )
        scales = f" at scales {', '.join(f'{s:g}' for s in self.eval_scales)}" if self.eval_scales else ""
        return (
            f"{self.name}: {model}, crops {config.crop_size} of slices scaled {config.scale_min:g}-{config.scale_max:g}, "
            f"batch {config.batch_size}, {config.optimizer} lr {config.lr:g}, warm-up then cosine; "
            f"eval {self.protocol}{scales}"
        )


#: Small settings for 2 CPU cores (minutes per row).
CPU_SETTINGS = Settings(
    "cpu",
    dict(
        segmentor="unet",
        output_stride=16,
        crop_size=128,
        scale_min=0.4,
        scale_max=0.6,
        batch_size=12,
        # From scratch in minutes, AdamW learns where SGD has barely started: 300 steps of the
        # full row reached 51 mIoU with AdamW at 2e-3, 40 with SGD at 0.1 and 35 at the preset's 0.05.
        optimizer="adamw",
        lr=2e-3,
        weight_decay=1e-4,
    ),
    "single-scale",
    (0.5,),
    dict(
        backbone="vit_tiny_patch16_224",
        crop_size=128,
        local_crop_size=64,
        scale_min=0.4,
        scale_max=0.6,
        batch_size=4,
        cam_scales=(0.5,),
    ),
    run=replace(QUIET, workers=1, checkpoint_every=10**9),
    stage1_run=replace(QUIET, workers=1, checkpoint_every=10**9, accumulate=1),
)
#: :data:`CPU_SETTINGS` at toy sizes, for tests of the plumbing (seconds per row, nothing learnt).
TINY_SETTINGS = replace(
    CPU_SETTINGS,
    name="tiny",
    overrides={**CPU_SETTINGS.overrides, "crop_size": 32, "batch_size": 2},
    stage1={**CPU_SETTINGS.stage1, "crop_size": 64, "local_crop_size": 32, "batch_size": 2},
    run=replace(CPU_SETTINGS.run, workers=0),
    stage1_run=replace(CPU_SETTINGS.stage1_run, workers=0),
    probe_steps=1,
)
#: The ``acdc`` preset as the paper trains it (a GPU's work).
PAPER_SETTINGS = Settings("paper", dict(segmentor="deeplabv3plus", backbone="resnet101"), "authors")


@dataclass(frozen=True)
class RowRun:
    """What one row trains on, where, and how.

    Attributes
    ----------
    name
        The row (a key of :data:`lab.rows.ROWS`).
    data
        The build it trains and is evaluated on.
    labels
        Its label folder in ``data`` (from :func:`lab.rows.row_source`).
    config
        Its stage-2 config.
    settings
        The settings of the table.
    work
        A folder of its own for its runs.
    pretrained
        Local backbone weights, or None.
    process
        The device and this process's place in the job (from
        :func:`~csptrain.runtime.process.joined`): every stage of the row runs there.
    log
        Takes one line of progress.
    """

    name: str
    data: Path
    labels: str
    config: Stage2Config
    settings: Settings
    work: Path
    pretrained: Path | None
    process: Process
    log: Callable[[str], None]


def evaluate_run(
    data: Path, run: Path, split: str, settings: Settings, num_classes: int, process: Process
) -> dict[str, Any]:
    """A row's checkpoint scored on a split.

    Parameters
    ----------
    data
        The build.
    run
        The stage-2 run folder; its predictions are written to ``run / "predictions" / split``.
    split
        The split of ``data`` scored.
    settings
        Their evaluation protocol and scales are used.
    num_classes
        Classes of the build, background included.
    process
        Where the model runs.

    Returns
    -------
    dict
        ``miou``, ``iou`` (per class), ``dice`` and ``dice_per_class`` (per 3D volume, see
        :func:`~lab.volumes.volume_dice`) and the checkpoint's ``step``.
    """
    trained = load_stage2_model(TrainingRun(run).checkpoint)
    protocol = protocol_for(trained.config, settings.protocol, scales=settings.eval_scales or None)
    predictions = run / "predictions" / split
    scores = evaluate(
        trained.model.to(process.device),
        data,
        split,
        num_classes,
        protocol,
        process=process,
        save_dir=predictions,
        progress=False,
        workers=0,
    )
    return {
        "miou": scores["miou"],
        "iou": scores["iou"],
        **volume_dice(data, split, predictions, num_classes),
        "step": trained.step,
    }


def train_stage2_to(row: RowRun, pseudo: Path | None, run: Path, stop: int) -> None:
    """Train (or resume) stage 2 of ``row``, with its config, in ``run`` up to step ``stop``."""
    settings = replace(row.settings.run, max_steps=stop)
    train_stage2(
        row.data, row.labels, pseudo, run, row.config, row.process, settings=settings, pretrained=row.pretrained
    )


def stage2_step_cost(row: RowRun, pseudo: Path | None, probe: Path) -> StepCost:
    """What stage 2 of ``row``'s config costs on its labels, from a throwaway run in ``probe``."""
    return probe_step_cost(lambda run, stop: train_stage2_to(row, pseudo, run, stop), probe, row.settings.probe_steps)


def train_stage2_row(
    row: RowRun, pseudo: Path | None, budget_s: float | None, spent_s: float = 0.0, steps: int | None = None
) -> dict[str, Any]:
    """Stage 2 of a row for a budget of steps, evaluated at the curve's points.

    Parameters
    ----------
    row
        The row.
    pseudo
        Its pseudo-label folder (CSPNet rows), or None.
    budget_s
        Seconds of steps (a probe times them); None trains the config's whole schedule.
    spent_s
        Seconds already spent (stage 1 and pseudo-labels), counted in the curve's training seconds.
    steps
        Train exactly this many steps (a schedule of them; no probe), whatever ``budget_s``.

    Returns
    -------
    dict
        The last point's scores (see :func:`evaluate_run`) with ``train_s``, and ``labels``,
        ``build``, ``steps``, ``s_per_step`` and ``curve`` (step, train_s, miou, dice per point).
    """
    images = len(read_split(row.data, "train"))
    classes = len(class_names_of(row.data))

    cost: StepCost | None = None
    if steps is not None:  # given (every line of an ablation trains the same steps)
        planned = budget_config(row.config, steps)
    elif budget_s is None:  # the config's whole schedule: no probe needed
        planned, steps = row.config, stage2_schedule(row.config, images, 1, "train").stop
    else:
        cost = stage2_step_cost(row, pseudo, row.work / "probe2")
        steps = cost.steps_for(budget_s, starts=len(CURVE))
        planned = budget_config(row.config, steps)
    timed = "" if cost is None else f"{cost.step_s:.2f} s per step, {cost.start_s:.1f} s per start -> "
    row.log(f"{row.name}: {row.labels}, {timed}{steps} steps")
    run, trained_s, curve = row.work / "stage2", spent_s, []
    for target in sorted({max(1, round(fraction * steps)) for fraction in CURVE}):
        if target < steps and TrainingRun(run).reached(target + 1):
            continue  # a rerun of a run already past this point: its checkpoint is a later step's
        started = time.perf_counter()
        train_stage2_to(replace(row, config=planned), pseudo, run, target)
        trained_s += time.perf_counter() - started
        scores = evaluate_run(row.data, run, "val", row.settings, classes, row.process)
        point = {**scores, "train_s": round(trained_s, 1)}
        row.log(
            f"{row.name}: step {point['step']}, {trained_s:.0f} s: mIoU {100 * point['miou']:.1f}, Dice {point['dice']:.3f}"
        )
        curve.append(point)
    return {
        **curve[-1],
        "labels": row.labels,
        "build": str(row.data),
        "steps": steps,
        "s_per_step": None if cost is None else round(cost.step_s, 3),
        "curve": [{k: p[k] for k in ("step", "train_s", "miou", "dice")} for p in curve],
    }


def train_stage1_and_pseudo(
    row: RowRun, budget_s: float | None, steps: int | None = None, source: str = "cam"
) -> tuple[Path, dict[str, Any]]:
    """Stage 1 of a row on its labels for ``budget_s`` seconds of steps, then its pseudo-labels on the train split.

    Parameters
    ----------
    row
        The row: its labels are the scribbles stage 1 learns from.
    budget_s
        Seconds of stage-1 steps, timed by a probe with every term on (ToCo's segmentation and
        regulariser terms start a tenth of the way in; a probe without them ran 40 % short);
        None trains the preset's whole schedule.
    steps
        Stage-1 steps instead of a budget (no probe): an earlier run's count, which a rerun in
        the same work folder finds done.
    source
        Where the pseudo-labels come from (:data:`~csptrain.catalog.PSEUDO_SOURCES`); each
        source has its own folder.

    Returns
    -------
    tuple
        The pseudo-label folder and its summary: ``miou`` against the dense ground truth of
        the train split (Table VII's mIoU_pseudo), ``uncertain_share``, ``stage1_steps``, and
        the seconds that stage 1 (``stage1_s``) and the pseudo-labels (``pseudo_s``) took.
    """
    config1 = make_stage1_config("acdc", seed=row.config.seed, **row.settings.stage1)

    def train(run: Path, stop: int, config: Stage1Config = config1) -> None:
        settings = replace(row.settings.stage1_run, max_steps=stop)
        train_stage1(row.data, row.labels, run, config, row.process, settings=settings, split="train")

    iterations = steps
    if iterations is None and budget_s is not None:
        cost = probe_step_cost(
            lambda run, stop: train(run, stop, replace(config1, seg_start=0.0)),
            row.work / "probe1",
            row.settings.probe_steps,
        )
        iterations = cost.steps_for(budget_s)
        row.log(
            f"{row.name}: stage 1 {cost.step_s:.2f} s per step, {cost.start_s:.1f} s to start -> {iterations} steps"
        )
    if iterations is not None:
        # ToCo's warm-up is 1,500 of 20,000 iterations; its other milestones are fractions already.
        config1 = replace(config1, iterations=iterations, warmup_iters=max(1, round(0.075 * iterations)))
    started = time.perf_counter()
    train(row.work / "stage1", config1.iterations, config1)
    stage1_s = time.perf_counter() - started
    pseudo = row.work / ("pseudo" if source == "cam" else f"pseudo-{source}")
    summary = generate_pseudo_labels(
        row.data,
        TrainingRun(row.work / "stage1").checkpoint,
        pseudo,
        row.process,
        split="train",
        scribbles=row.labels,
        source=source,
        progress=False,
    )
    pseudo_s = time.perf_counter() - started - stage1_s
    row.log(
        f"{row.name}: stage 1 took {stage1_s:.0f} s, its pseudo-labels {pseudo_s:.0f} s; "
        f"pseudo-label mIoU {100 * summary['miou']:.1f} (uncertain {100 * summary['uncertain_share']:.0f} %)"
    )
    timing = {"stage1_steps": config1.iterations, "stage1_s": round(stage1_s, 1), "pseudo_s": round(pseudo_s, 1)}
    return pseudo, {**summary, **timing}


def train_cspnet_row(row: RowRun, budget_s: float | None, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """The whole pipeline within one budget: stage 1, its pseudo-labels, then stage 2 with every term.

    Stage 1 trains for :data:`STAGE1_SHARE` of the budget; stage 2 gets what stage 1 and
    the pseudo-labels left of it, so that the row costs what a stage-2-only row of the same
    budget costs (the probes, as theirs, not counted).

    Parameters
    ----------
    row
        The row; its config's losses are used as they are.
    budget_s
        Seconds for the whole row; None trains both stages' whole schedules.
    plan
        ``stage1_steps`` and ``steps`` (stage 2's) of an earlier run to train instead of
        probing (the later seeds of a row train the first seed's steps).

    Returns
    -------
    dict
        What :func:`train_stage2_row` returns (its ``train_s`` counts all three parts), with
        the pseudo-labels' ``pseudo_miou`` and the ``split``: ``stage1_s``, ``pseudo_s``,
        ``stage2_s``, ``total_s`` and ``budget_s``.
    """
    plan = plan or {}
    stage1_budget = None if budget_s is None else STAGE1_SHARE * budget_s
    pseudo, summary = train_stage1_and_pseudo(row, stage1_budget, plan.get("stage1_steps"))
    spent_s = summary["stage1_s"] + summary["pseudo_s"]
    left = None if budget_s is None else budget_s - spent_s
    if left is not None and left <= 0 and "steps" not in plan:
        row.log(f"{row.name}: stage 1 and its pseudo-labels took {spent_s:.0f} s of {budget_s:.0f}: one stage-2 step")
    result = train_stage2_row(row, pseudo, None if left is None else max(0.0, left), spent_s, plan.get("steps"))
    split = {
        "stage1_s": summary["stage1_s"],
        "pseudo_s": summary["pseudo_s"],
        "stage2_s": round(result["train_s"] - spent_s, 1),
        "total_s": result["train_s"],
        "budget_s": budget_s,
    }
    row.log(
        f"{row.name}: stage 1 {split['stage1_s']:.0f} s + pseudo-labels {split['pseudo_s']:.0f} s "
        f"+ stage 2 {split['stage2_s']:.0f} s = {split['total_s']:.0f} s"
        + ("" if budget_s is None else f" of {budget_s:.0f} s")
    )
    return {**result, "pseudo_miou": summary["miou"], "stage1_steps": summary["stage1_steps"], "split": split}


def train_row(row: RowRun, budget_s: float | None, plan: dict[str, Any] | None = None) -> dict[str, Any]:
    """One run of a row: a CSPNet row (``cspnet-*``, every loss term) or a stage-2-only row.

    Parameters
    ----------
    row
        The row.
    budget_s
        Its seconds of training; None trains the config's whole schedule.
    plan
        The ``steps`` (and a CSPNet row's ``stage1_steps``) of an earlier run of its kind to
        train instead of probing the budget's; None probes.

    Returns
    -------
    dict
        What :func:`train_stage2_row` (or :func:`train_cspnet_row`) returns.
    """
    if row.name.startswith("cspnet"):
        return train_cspnet_row(replace(row, config=replace(row.config, losses=LOSS_TERMS)), budget_s, plan)
    return train_stage2_row(row, None, budget_s, steps=None if plan is None else plan["steps"])

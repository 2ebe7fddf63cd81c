"""Does csptrain learn, and do simulated scribbles train like human ones? Measured on ScribbleACDC.

Each row trains a stage-2 model from scratch for the same time budget on the train split of
a ``scribblesim build acdc`` output and is evaluated on its val split: mIoU over background,
RV, MYO and LV (Table V's measure), the per-class IoU, and the mean Dice of the three
structures (the medical field's measure: each structure's Dice in each 3D volume, averaged
over the volumes, then over the structures). Rows:

- ``full``: the dense ground truth with plain cross-entropy (the upper bound);
- ``pce-human``: partial cross-entropy on the experts' scribbles (Table V's baseline);
- ``pce-sim``: partial cross-entropy on simulated scribbles of the paper's style (``--sim-set``);
- ``pce-fitted``: the same on scribbles simulated with a style fitted to the train
  patients' experts (``scribblesim fit``), built into a folder of their own with
  ``scribblesim build acdc --style`` and given as ``--fitted``;
- ``cspnet-human``, ``cspnet-sim``: the whole pipeline (what ``csptrain run`` does): stage 1
  for 40 % of the budget, its pseudo-labels (PAR-refined), then stage 2 with every loss term
  on the same segmentor for what is left.

The step count comes from the budget: a short probe times the row's steps, the schedule
(warm-up, then cosine to zero) is laid over that many steps, and the row is evaluated at
quarters of it for a learning curve (evaluation is not counted in the budget).

On the CPU (the default) the settings are small: WSL4MIS's UNet, slices scaled by 0.4-0.6
(about 128 px), crops of 128, batch 12, AdamW, evaluation of the whole slice at scale 0.5.
``--paper`` trains the ``acdc`` preset instead (DeepLabV3+ ResNet-101 at output stride 8,
256 crops, batch 16, the authors' multi-scale evaluation), for a GPU. Nothing is downloaded:
``--pretrained`` takes a local torchvision ResNet state dict.

    python benchmarks/learning.py --data OUT [--rows full,pce-human,pce-sim] [--budget-minutes 10] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from csptrain.catalog import LOSS_TERMS
from csptrain.data.layout import class_names_of, read_split, scribble_folder
from csptrain.metrics import confusion_matrix, dice_scores
from csptrain.runs import TrainingRun
from csptrain.runtime.process import pick_device
from csptrain.stage2.config import Stage2Config, make_stage2_config
from csptrain.stage2.evaluate import evaluate
from csptrain.stage2.protocol import protocol_for
from csptrain.stage2.train import load_stage2_model, stage2_schedule, train_stage2
from scribblesim.errors import UserError
from scribblesim.sets.layout import GROUND_TRUTH_DIR
from scribblesim.sets.scribble_set import read_label_map

#: Where each row's labels come from: the dense ground truth or a scribble set's role.
ROWS: dict[str, str] = {
    "full": "dense",
    "pce-human": "human",
    "pce-sim": "sim",
    "pce-fitted": "fitted",
    "cspnet-human": "human",
    "cspnet-sim": "sim",
}
#: Share of a CSPNet row's budget that stage 1 trains for; pseudo-labels and stage 2 share the rest.
STAGE1_SHARE = 0.4
DEFAULT_ROWS = ("full", "pce-human", "pce-sim")
#: The classes whose Dice the medical field reports (background is not one).
STRUCTURES = (1, 2, 3)
#: Points of the learning curve, as fractions of the row's steps.
CURVE = (0.25, 0.5, 0.75, 1.0)
#: Steps timed by the probe after two that warm up (loader start, first allocations).
PROBE_STEPS = 8


@dataclass(frozen=True)
class Settings:
    """The stage-2 settings every row shares, stage 1's for CSPNet rows, and how rows are evaluated."""

    name: str
    overrides: dict = field(default_factory=dict)
    protocol: str = "single-scale"
    eval_scales: tuple[float, ...] = ()
    stage1: dict = field(default_factory=dict)

    def describe(self, config: Stage2Config) -> str:
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
        workers=1,
        checkpoint_every=10**9,
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
        accumulate=1,
        cam_scales=(0.5,),
        workers=1,
        checkpoint_every=10**9,
    ),
)
#: The ``acdc`` preset as the paper trains it (a GPU's work).
PAPER_SETTINGS = Settings("paper", dict(segmentor="deeplabv3plus", backbone="resnet101"), "authors")


def row_source(data: Path, row: str, sets: dict[str, tuple[Path, str]]) -> tuple[Path, str]:
    """The build ``row`` trains on and its label folder there (the dense ground truth or a scribble set).

    ``sets`` maps a role to its build and set; a build other than ``data`` (a fitted style
    is built into a folder of its own) must hold the same slices and splits.
    """
    role = ROWS[row]
    if role == "dense":
        return data, GROUND_TRUTH_DIR
    if role not in sets:
        raise SystemExit(f"--rows {row}: give the build of its scribbles with --{role}")
    build, tag = sets[role]
    for split in ("train", "val"):
        if Path(build).resolve() != Path(data).resolve() and read_split(build, split) != read_split(data, split):
            raise SystemExit(f"--{role} {build}: its {split} split is not --data's (build it with the same split)")
    return build, scribble_folder(build, "train", tag)


def probe_seconds_per_step(train: Callable[[Path, int], object], run: Path) -> float:
    """Seconds per step of ``train(run, stop)`` (data loading included), from a throwaway run."""
    train(run, 2)
    started = time.perf_counter()
    train(run, 2 + PROBE_STEPS)
    return (time.perf_counter() - started) / PROBE_STEPS


def budget_config(config: Stage2Config, steps: int, images: int) -> Stage2Config:
    """``config`` with a schedule of about ``steps`` steps: whole epochs, a tenth of them warm-up."""
    per_epoch = stage2_schedule(config, images, 1, "train").micro_batches_per_epoch
    epochs = max(1, math.ceil(steps / per_epoch))
    return replace(config, epochs=epochs, warmup_epochs=round(epochs / 10), max_steps=min(steps, epochs * per_epoch))


def volume_of(name: str) -> str:
    """The 3D volume of slice ``patientNNN_frameFF_zZZ``: ``patientNNN_frameFF``."""
    return name.rsplit("_z", 1)[0]


def volume_dice(data: Path, split: str, predictions: Path, num_classes: int) -> dict[str, float | list[float]]:
    """Mean over volumes of each structure's 3D Dice (volumes where it is in truth or prediction), and their mean."""
    confusions: dict[str, np.ndarray] = defaultdict(lambda: np.zeros((num_classes, num_classes), np.int64))
    for name in read_split(data, split):
        truth = read_label_map(Path(data) / GROUND_TRUTH_DIR / f"{name}.png")
        prediction = read_label_map(predictions / f"{name}.png")
        confusions[volume_of(name)] += confusion_matrix(prediction, truth, num_classes)
    per_volume = np.array([dice_scores(c) for c in confusions.values()])
    per_class = [float(np.nanmean(per_volume[:, k])) for k in STRUCTURES]
    return {"dice": float(np.mean(per_class)), "dice_per_class": per_class}


def evaluate_run(data: Path, run: Path, split: str, settings: Settings, num_classes: int) -> dict:
    """mIoU, per-class IoU and volume Dice of a row's checkpoint on ``split``."""
    trained = load_stage2_model(TrainingRun(run).checkpoint)
    protocol = protocol_for(trained.config, settings.protocol, scales=settings.eval_scales or None)
    predictions, device = run / "predictions", pick_device(trained.config.device)
    scores = evaluate(
        trained.model.to(device),
        data,
        split,
        num_classes,
        protocol,
        device=device,
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


@dataclass(frozen=True)
class RowRun:
    """What one row trains on, where, and how."""

    name: str
    data: Path
    labels: str
    config: Stage2Config
    settings: Settings
    work: Path
    pretrained: Path | None
    log: Callable[[str], None]


def train_stage2_row(row: RowRun, pseudo: Path | None, budget_s: float | None, spent_s: float = 0.0) -> dict:
    """Stage 2 of ``row`` for ``budget_s`` seconds of steps (None: the whole schedule), evaluated at the curve's points.

    ``spent_s`` (stage 1 and pseudo-labels) counts in the curve's training seconds.
    """
    images = len(read_split(row.data, "train"))
    classes = len(class_names_of(row.data))

    def train(run: Path, stop: int, config: Stage2Config = row.config) -> None:
        config = replace(config, max_steps=stop)
        train_stage2(row.data, row.labels, pseudo, run, config, pretrained=row.pretrained, progress=False)

    step_s: float | None = None
    if budget_s is None:  # the config's whole schedule: no probe needed
        planned, steps = row.config, stage2_schedule(row.config, images, 1, "train").stop
    else:
        step_s = probe_seconds_per_step(train, row.work / "probe2")
        planned = budget_config(row.config, max(1, int(budget_s / step_s)), images)
        steps = planned.max_steps or 0
    timed = "" if step_s is None else f"{step_s:.2f} s per step -> "
    row.log(f"{row.name}: {row.labels}, {timed}{steps} steps ({planned.epochs} epochs)")
    run, trained_s, curve = row.work / "stage2", spent_s, []
    for fraction in CURVE:
        started = time.perf_counter()
        train(run, max(1, round(fraction * steps)), planned)
        trained_s += time.perf_counter() - started
        point = {**evaluate_run(row.data, run, "val", row.settings, classes), "train_s": round(trained_s, 1)}
        row.log(
            f"{row.name}: step {point['step']}, {trained_s:.0f} s: mIoU {100 * point['miou']:.1f}, Dice {point['dice']:.3f}"
        )
        curve.append(point)
    return {
        **curve[-1],
        "labels": row.labels,
        "build": str(row.data),
        "steps": steps,
        "s_per_step": None if step_s is None else round(step_s, 3),
        "curve": [{k: p[k] for k in ("step", "train_s", "miou", "dice")} for p in curve],
    }


def train_cspnet_row(row: RowRun, budget_s: float | None) -> dict:
    """Stage 1 for :data:`STAGE1_SHARE` of the budget, its pseudo-labels, then stage 2 with every term."""
    from csptrain.stage1.config import make_stage1_config
    from csptrain.stage1.pseudo import generate_pseudo_labels
    from csptrain.stage1.train import train_stage1

    config1 = make_stage1_config("acdc", device=row.config.device, seed=row.config.seed, **row.settings.stage1)

    def train(run: Path, stop: int, config=config1) -> None:
        train_stage1(row.data, row.labels, run, replace(config, max_steps=stop), split="train", progress=False)

    if budget_s is not None:
        step_s = probe_seconds_per_step(train, row.work / "probe1")
        iterations = max(1, int(STAGE1_SHARE * budget_s / step_s))
        # ToCo's warm-up is 1,500 of 20,000 iterations; its other milestones are fractions already.
        config1 = replace(config1, iterations=iterations, warmup_iters=max(1, round(0.075 * iterations)))
        row.log(f"{row.name}: stage 1 {step_s:.2f} s per step -> {iterations} steps")
    started = time.perf_counter()
    train(row.work / "stage1", config1.iterations, config1)
    pseudo = row.work / "pseudo"
    generate_pseudo_labels(
        row.data,
        TrainingRun(row.work / "stage1").checkpoint,
        pseudo,
        split="train",
        scribbles=row.labels,
        device=row.config.device,
        progress=False,
    )
    spent_s = time.perf_counter() - started
    row.log(f"{row.name}: stage 1 and pseudo-labels took {spent_s:.0f} s")
    left = None if budget_s is None else max(0.25 * budget_s, budget_s - spent_s)
    return train_stage2_row(row, pseudo, left, spent_s)


def train_row(row: RowRun, budget_s: float | None) -> dict:
    """One row of the table (see the module docstring)."""
    if row.name.startswith("cspnet"):
        return train_cspnet_row(replace(row, config=replace(row.config, losses=LOSS_TERMS)), budget_s)
    return train_stage2_row(row, None, budget_s)


def background_only(data: Path, split: str, num_classes: int) -> float:
    """mIoU of predicting background everywhere (the floor learning must clear)."""
    truth_sizes = np.zeros(num_classes, np.int64)
    for name in read_split(data, split):
        truth = read_label_map(Path(data) / GROUND_TRUTH_DIR / f"{name}.png")
        truth_sizes += np.bincount(truth[truth < num_classes], minlength=num_classes)
    return float(truth_sizes[0] / truth_sizes.sum() / num_classes)


def format_table(result: dict) -> str:
    """The rows as a table, then each row's learning curve."""
    names = result["classes"]
    header = f"| row | labels | steps | train s | mIoU | {' | '.join(names)} | Dice |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row, r in result["rows"].items():
        ious = " | ".join(f"{100 * v:.1f}" for v in r["iou"])
        lines.append(
            f"| {row} | {r['labels']} | {r['steps']} | {r['train_s']:.0f} | {100 * r['miou']:.1f} | {ious} | {r['dice']:.3f} |"
        )
    lines.append(f"\nbackground everywhere: mIoU {100 * result['background_only_miou']:.1f}")
    for row, r in result["rows"].items():
        points = ", ".join(f"{p['step']} ({p['train_s']:.0f} s) {100 * p['miou']:.1f}" for p in r["curve"])
        lines.append(f"curve {row}: step (train s) mIoU: {points}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="A scribblesim build acdc output.")
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"Comma-separated, of {', '.join(ROWS)}.")
    parser.add_argument("--budget-minutes", type=float, default=None, help="Training time per row (CPU default 10).")
    parser.add_argument("--sim-set", default="1", help="Simulated set of the *-sim rows: a seed (default 1).")
    parser.add_argument("--human-set", default="human", help="Set of the *-human rows (default human).")
    parser.add_argument(
        "--fitted", type=Path, default=None, help="For pce-fitted: a build of the same slices with a fitted style."
    )
    parser.add_argument("--fitted-set", default="1", help="Simulated set of pce-fitted in --fitted (default 1).")
    parser.add_argument("--paper", action="store_true", help="The acdc preset's settings (for a GPU).")
    parser.add_argument("--pretrained", type=Path, default=None, help="Local torchvision ResNet weights.")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda ...")
    parser.add_argument("--seed", type=int, default=0, help="Training seed (default 0).")
    parser.add_argument("--work", type=Path, default=None, help="Folder for the runs (default: a temporary one).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    args = parser.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows:
        parser.error(f"--rows: unknown {', '.join(unknown) or 'empty list'} (choose from {', '.join(ROWS)})")
    settings = PAPER_SETTINGS if args.paper else CPU_SETTINGS
    budget = args.budget_minutes if args.budget_minutes is not None else (None if args.paper else 10.0)
    sets = {"human": (args.data, args.human_set), "sim": (args.data, args.sim_set)}
    if args.fitted is not None:
        sets["fitted"] = (args.fitted, args.fitted_set)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        config = make_stage2_config("acdc", losses=("segs",), device=args.device, seed=args.seed, **settings.overrides)
        sources = {row: row_source(args.data, row, sets) for row in rows}
        classes = class_names_of(args.data)
        with tempfile.TemporaryDirectory() as scratch:
            work = args.work or Path(scratch)
            budget_s = None if budget is None else 60 * budget
            results = {
                row: train_row(RowRun(row, *sources[row], config, settings, work / row, args.pretrained, log), budget_s)
                for row in rows
            }
        result = {
            "settings": settings.describe(config),
            "budget_minutes": budget,
            "classes": classes,
            "background_only_miou": background_only(args.data, "val", len(classes)),
            "rows": results,
        }
    except UserError as error:
        raise SystemExit(f"error: {error}") from None
    print(
        json.dumps(result, indent=1)
        if args.json
        else f"{result['settings']}\nbudget {budget} min per row\n\n{format_table(result)}"
    )


if __name__ == "__main__":
    main()

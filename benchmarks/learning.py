"""Does csptrain learn, and do simulated scribbles train like human ones? Measured on ScribbleACDC.

Each row trains a stage-2 model from scratch for the same time budget on the train split of
a ``scribblesim build acdc`` output and is evaluated on its val split: mIoU over background,
RV, MYO and LV (Table V's measure), the per-class IoU, and the mean Dice of the three
structures (the medical field's measure: each structure's Dice in each 3D volume, averaged
over the volumes, then over the structures). Rows:

- ``full``: the dense ground truth with plain cross-entropy (the upper bound);
- ``pce-human``: partial cross-entropy on the experts' scribbles (Table V's baseline);
- ``pce-sim``: partial cross-entropy on simulated scribbles of the paper's style (``--sim-set``;
  ``--sim-set 1,2,3`` trains it once per simulated annotator, as rows ``pce-s1`` ... ``pce-s3``,
  and adds their mean ± std over annotators, as the paper's tables);
- ``pce-fitted``: the same on scribbles simulated with a style fitted to the train
  patients' experts (``scribblesim fit``), built into a folder of their own with
  ``scribblesim build acdc --style`` and given as ``--fitted``;
- ``cspnet-human``, ``cspnet-sim``: the whole pipeline (what ``csptrain run`` does) within the
  same budget: stage 1 for 40 % of it, its pseudo-labels (PAR-refined), then stage 2 with
  every loss term on the same segmentor for what is left; the split is printed.

The step count comes from the budget: a short probe times the row's steps and the start of
a training call, the schedule (warm-up, then cosine to zero) is laid over that many steps,
and the row is evaluated at quarters of it for a learning curve (evaluation and probes are
not counted in the budget). ``--repeats N`` trains every row for N training seeds, each at
the steps of the first run of its kind, and the table gives mean ± std (n); ``--steps N``
gives the stage-2-only rows an earlier table's steps, so that more rows join it.

On the CPU (the default) the settings are small: WSL4MIS's UNet, slices scaled by 0.4-0.6
(about 128 px), crops of 128, batch 12, AdamW, evaluation of the whole slice at scale 0.5.
``--paper`` trains the ``acdc`` preset instead (DeepLabV3+ ResNet-101 at output stride 8,
256 crops, batch 16, the authors' multi-scale evaluation), for a GPU. Nothing is downloaded:
``--pretrained`` takes a local torchvision ResNet state dict.

``--ablation 1,10`` runs the paper's Table VI instead of the rows: per annotator
(``--annotators human,s1``), stage 1 on its own budget (``--stage1-minutes``) and one set of
pseudo-labels, then stage 2 with each line's loss terms on them, every line for the same
steps (a probe of the costliest line), for ``--repeats`` training seeds; it prints the table
as the paper's (mean ± std over seeds per annotator, then over annotators), the pseudo-labels'
mIoU on the train split beside line 1's own predictions there, and writes a figure.
``--steps`` and ``--stage1-steps`` fix the step counts instead (no probe): with an earlier
run's counts and ``--work`` folder, more lines join its table on its stage 1 and pseudo-labels.
``--pseudo-source scribble-head`` makes the pseudo-labels from the scribble head, not the CAMs.

The rows, the ablation, the budget planning and the scores live in :mod:`lab`;
this script parses its arguments, runs them and prints.

    python benchmarks/learning.py --data OUT [--rows full,pce-human,pce-sim] [--budget-minutes 10] [--json]
    python benchmarks/learning.py --data OUT --rows pce-human,cspnet-human --repeats 2
    python benchmarks/learning.py --data OUT --rows pce-sim --sim-set 1,2,3 --repeats 2 --steps 960
    python benchmarks/learning.py --data OUT --ablation 1,10 --annotators human --repeats 2 [--json]
    python benchmarks/learning.py --data OUT --ablation 3,9 --repeats 2 --steps 807 --stage1-steps 307 --work W
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from lab.ablation import ablation_png, format_ablation, parse_lines, run_ablation
from lab.learning import CPU_SETTINGS, PAPER_SETTINGS, TINY_SETTINGS, RowRun
from lab.repeats import annotator_means, train_rows
from lab.rows import DEFAULT_ROWS, ROWS, row_sources
from lab.volumes import background_only

from csptrain.catalog import PSEUDO_SOURCES, UNCERTAIN_PIXELS
from csptrain.data.layout import class_names_of
from csptrain.errors import ConfigError
from csptrain.runtime.process import joined
from csptrain.stage2.config import make_stage2_config
from scribblesim.errors import UserError


def format_table(result: dict) -> str:
    """The rows as a table of mean ± std over seeds, then each run's learning curve and CSPNet's splits."""
    names = result["classes"]
    header = f"| row | labels | steps | train s | mIoU | {' | '.join(names)} | Dice |"
    lines = [header, "|" + "---|" * (header.count("|") - 1)]
    for row, r in result["rows"].items():
        n = f" (n={r['n']})" if r["n"] > 1 else ""
        ious = " | ".join(f"{100 * v:.1f} ± {100 * e:.1f}" for v, e in zip(r["iou"], r["iou_std"]))
        lines.append(
            f"| {row} | {r['labels']} | {r['steps']} | {r['train_s']:.0f} | {100 * r['miou']:.2f} ± "
            f"{100 * r['miou_std']:.2f}{n} | {ious} | {r['dice']:.3f} ± {r['dice_std']:.3f} |"
        )
    for name, cell in result.get("annotators", {}).items():
        lines.append(
            f"| {name} | {cell['n']} annotators' means | | | {100 * cell['mean']:.2f} ± {100 * cell['std']:.2f} |"
        )
    lines.append(f"\nbackground everywhere: mIoU {100 * result['background_only_miou']:.1f}")
    for row, r in result["rows"].items():
        for run in r["runs"]:
            points = ", ".join(f"{p['step']} ({p['train_s']:.0f} s) {100 * p['miou']:.1f}" for p in run["curve"])
            lines.append(f"curve {row} seed {run['seed']}: step (train s) mIoU: {points}")
            if "split" in run:
                split = run["split"]
                budget = "" if split["budget_s"] is None else f" of {split['budget_s']:.0f} s"
                lines.append(
                    f"  split: stage 1 {split['stage1_s']:.0f} s ({run['stage1_steps']} steps) + pseudo-labels "
                    f"{split['pseudo_s']:.0f} s (mIoU {100 * run['pseudo_miou']:.1f}) + stage 2 {split['stage2_s']:.0f} s "
                    f"= {split['total_s']:.0f} s{budget}"
                )
    return "\n".join(lines)


def format_pseudo(annotator: str, pseudo: dict) -> str:
    """One annotator's pseudo-labels beside line 1's own predictions on the train split."""
    if pseudo["pseudo_miou"] is None:
        text = f"{annotator}: no stage 1 (no line reads pseudo-labels)"
    else:
        text = f"{annotator}: pseudo-label mIoU {100 * pseudo['pseudo_miou']:.2f} on the train split"
    if pseudo["pce_miou"] is not None:
        text += f", line 1's own predictions there {100 * pseudo['pce_miou']:.2f}"
    if pseudo["pseudo_miou"] is not None:
        text += f" (stage 1: {pseudo['stage1_steps']} steps, {pseudo['stage1_s']:.0f} s with the pseudo-labels)"
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="A scribblesim build acdc output.")
    parser.add_argument("--rows", default=",".join(DEFAULT_ROWS), help=f"Comma-separated, of {', '.join(ROWS)}.")
    parser.add_argument("--budget-minutes", type=float, default=None, help="Training time per row (CPU default 10).")
    parser.add_argument(
        "--sim-set", default="1", help="Simulated set(s) of the *-sim rows: a seed, or seeds as 1,2,3 (default 1)."
    )
    parser.add_argument("--human-set", default="human", help="Set of the *-human rows (default human).")
    parser.add_argument(
        "--fitted", type=Path, default=None, help="For pce-fitted: a build of the same slices with a fitted style."
    )
    parser.add_argument("--fitted-set", default="1", help="Simulated set of pce-fitted in --fitted (default 1).")
    parser.add_argument("--paper", action="store_true", help="The acdc preset's settings (for a GPU).")
    parser.add_argument("--tiny", action="store_true", help="Toy sizes that test the plumbing in seconds.")
    parser.add_argument("--pretrained", type=Path, default=None, help="Local torchvision ResNet weights.")
    parser.add_argument("--device", default="auto", help="auto, cpu, cuda ...")
    parser.add_argument("--seed", type=int, default=0, help="Training seed (default 0).")
    parser.add_argument("--work", type=Path, default=None, help="Folder for the runs (default: a temporary one).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    parser.add_argument(
        "--ablation", default=None, help="Table VI lines instead of the rows, e.g. 1,10 (1: pCE alone)."
    )
    parser.add_argument("--annotators", default="human", help="Ablation: human and/or s1, s2 ... (default human).")
    parser.add_argument("--repeats", type=int, default=1, help="Training seeds per row or line (default 1).")
    parser.add_argument(
        "--stage1-minutes", type=float, default=None, help="Ablation: stage 1's budget per annotator (CPU default 4)."
    )
    parser.add_argument(
        "--figure", type=Path, default=Path("learning.png"), help="Ablation: the figure's path (default learning.png)."
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="Stage-2 steps of every line, or of every stage-2-only row, instead of a probe's count.",
    )
    parser.add_argument(
        "--stage1-steps", type=int, default=None, help="Ablation: stage-1 steps instead of --stage1-minutes' count."
    )
    parser.add_argument(
        "--pseudo-source",
        choices=PSEUDO_SOURCES,
        default="cam",
        help="Ablation: pseudo-labels from the CAMs (the paper, default) or the scribble head.",
    )
    parser.add_argument(
        "--uncertain",
        choices=UNCERTAIN_PIXELS,
        default=UNCERTAIN_PIXELS[0],
        help="Ablation: what L_segc makes of uncertain pseudo-label pixels (default background, as the authors).",
    )
    args = parser.parse_args()
    rows = [r for r in args.rows.split(",") if r]
    unknown = [r for r in rows if r not in ROWS]
    if unknown or not rows:
        parser.error(f"--rows: unknown {', '.join(unknown) or 'empty list'} (choose from {', '.join(ROWS)})")
    for option, value in (("--steps", args.steps), ("--stage1-steps", args.stage1_steps)):
        if value is not None and value < 1:
            parser.error(f"{option} must be >= 1, got {value}")
    settings = PAPER_SETTINGS if args.paper else TINY_SETTINGS if args.tiny else CPU_SETTINGS
    budget = args.budget_minutes if args.budget_minutes is not None else (None if args.paper else 10.0)
    sim_sets = [tag for tag in args.sim_set.split(",") if tag]
    if not sim_sets:
        parser.error("--sim-set: give a seed, or seeds as 1,2,3")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    sets = {"human": (args.data, args.human_set)}
    if args.fitted is not None:
        sets["fitted"] = (args.fitted, args.fitted_set)

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    try:
        config = make_stage2_config(
            "acdc", losses=("segs",), seed=args.seed, uncertain=args.uncertain, **settings.overrides
        )
        classes = class_names_of(args.data)
        if args.ablation is not None:
            lines = parse_lines(args.ablation)
            stage1 = args.stage1_minutes if args.stage1_minutes is not None else (None if args.paper else 4.0)
            annotators = [a for a in args.annotators.split(",") if a]
            with joined(args.device) as process, tempfile.TemporaryDirectory() as scratch:
                base = RowRun(
                    "", args.data, "", config, settings, args.work or Path(scratch), args.pretrained, process, log
                )
                measured = run_ablation(
                    base,
                    annotators,
                    lines,
                    args.repeats,
                    None if budget is None else 60 * budget,
                    None if stage1 is None else 60 * stage1,
                    steps=args.steps,
                    stage1_steps=args.stage1_steps,
                    pseudo_source=args.pseudo_source,
                )
            args.figure.parent.mkdir(parents=True, exist_ok=True)
            args.figure.write_bytes(ablation_png(measured["ablation"]))
            result = {
                "settings": settings.describe(config),
                "budget_minutes": budget,
                "stage1_minutes": stage1,
                "pseudo_source": args.pseudo_source,
                "uncertain": args.uncertain,
                "repeats": args.repeats,
                "classes": classes,
                "background_only_miou": background_only(args.data, "val", len(classes)),
                **measured,
                "figure": str(args.figure),
            }
            table = format_ablation(measured["ablation"])
            pseudo = "\n".join(format_pseudo(a, p) for a, p in measured["pseudo"].items())
            text = f"{result['settings']}\nstage 2: {budget} min per line\n\n{table}\n\n{pseudo}\nfigure: {args.figure}"
        else:
            try:
                sources = row_sources(args.data, rows, sets, sim_sets)
            except ConfigError as error:  # an option missing or at odds with --data: said as the option's own error
                raise SystemExit(str(error)) from None
            with joined(args.device) as process, tempfile.TemporaryDirectory() as scratch:
                work = args.work or Path(scratch)
                runs = [
                    RowRun(row, *source, config, settings, work / row, args.pretrained, process, log)
                    for row, source in sources.items()
                ]
                results = train_rows(runs, None if budget is None else 60 * budget, args.repeats, steps=args.steps)
            result = {
                "settings": settings.describe(config),
                "budget_minutes": budget,
                "repeats": args.repeats,
                "classes": classes,
                "background_only_miou": background_only(args.data, "val", len(classes)),
                "rows": results,
                "annotators": annotator_means(results, sim_sets),
            }
            text = f"{result['settings']}\nbudget {budget} min per row\n\n{format_table(result)}"
    except UserError as error:
        raise SystemExit(f"error: {error}") from None
    print(json.dumps(result, indent=1) if args.json else text)


if __name__ == "__main__":
    main()

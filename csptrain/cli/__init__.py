"""The ``csptrain`` command line: stage1, pseudo, stage2, eval, predict, export, report and run (their options: :mod:`.options`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from scribblesim.cli.failures import OneLineErrors, interrupted
from scribblesim.cli.options import SEED

from ..catalog import EXPORT_FORMATS, PSEUDO_SOURCES
from ..errors import StopRequested
from ..runs import CHECKPOINT
from ..runtime.settings import RUN_DEFAULTS, RUN_SETTING_NAMES, RunSettings
from ..stage1.config import Stage1Config
from ..stage2.config import Stage2Config
from .options import (
    COMMON,
    CONTEXT,
    PRESET,
    RUN,
    RUN_STAGE2,
    SOURCE_HELP,
    SPLIT_HELP,
    STAGE1,
    STAGE2,
    STEPS,
    device_option,
    inference_options,
    options_from,
    protocol_options,
    take_prefixed,
)


def _summary(out: Path, last: dict) -> str:
    """The last step's loss, or the recorded one of a run that was already finished."""
    loss = last.get("loss")
    return f"{out}: step {last['step']}" + (f", loss {loss:.4f}" if loss is not None else "")


#: Modules of the ``train`` extra; without them a command says so in one line.
TRAIN_EXTRA = {"torch", "torchvision", "timm", "yaml", "tensorboard"}


class _Commands(OneLineErrors):
    """scribblesim's one-line failures, plus a missing train extra and a stop that saved a checkpoint.

    Commands import torch when they run, so that ``csptrain --help`` works without it.
    Training saves a checkpoint on SIGINT/SIGTERM before it stops (exit status 130).
    """

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except StopRequested as stop:
            interrupted(str(stop), label="stopped")

    def explain(self, error: Exception) -> str | None:
        if isinstance(error, ModuleNotFoundError) and (error.name or "").split(".")[0] in TRAIN_EXTRA:
            return (
                f"this command needs the train extra (no module named {error.name!r}): pip install 'scribblesim[train]'"
            )
        return None


@click.group(cls=_Commands, context_settings=CONTEXT)
@click.version_option(package_name="scribblesim")
def main() -> None:
    """Train CSPNet on scribbles and evaluate it.

    Defaults shown are the configs' own; --preset (Tables A4/A5) and --config (YAML)
    override them, and flags override both.
    """


def _training_command(
    name: str, stage_options: list[tuple], run_options: list[tuple], defaults, table: str, pretrained_help: str
) -> Callable:
    """The options every trainer command takes (``stage1``, ``stage2``), around its own and its run settings'."""

    def decorate(command: Callable) -> Callable:
        options = [
            click.option("--data", type=click.Path(path_type=Path), required=True, help="A scribblesim build output."),
            click.option(
                "--scribbles", required=True, help="Scribble folder under --data, e.g. coco2014_train_scribble_r1."
            ),
            click.option(
                "--out", type=click.Path(path_type=Path), required=True, help="Run folder (checkpoints, TensorBoard)."
            ),
            click.option("--preset", type=PRESET, default=None, help=f"{table} hyper-parameters."),
            click.option(
                "--config",
                "yaml_file",
                type=click.Path(path_type=Path),
                default=None,
                help="YAML file of config overrides.",
            ),
            click.option("--train-split", default="train", show_default=True, help=SPLIT_HELP),
            click.option("--pretrained", type=click.Path(path_type=Path), default=None, help=pretrained_help),
            options_from(stage_options + COMMON, defaults=defaults),
            options_from(run_options + STEPS, defaults=RUN_DEFAULTS),
            click.option(
                "--reconfigure", is_flag=True, help="Resume with changed settings (config.json records them)."
            ),
            click.option("--no-progress", is_flag=True),
        ]
        for option in reversed(options):
            command = option(command)
        return main.command(name)(command)

    return decorate


def _run_settings(flags: dict, progress: bool) -> RunSettings:
    """Pop the run settings' flags out of ``flags`` (those not given keep their defaults)."""
    given = {name: flags.pop(name) for name in RUN_SETTING_NAMES & flags.keys()}
    return RunSettings(**{name: value for name, value in given.items() if value is not None}, progress=progress)


def _train(
    make_config: Callable,
    train: Callable,
    inputs: tuple,
    out: Path,
    preset,
    yaml_file,
    flags: dict,
    no_progress: bool,
    **options,
) -> None:
    """Make a stage's config and run settings, join the job on its device, train (or resume) ``out``, print the last step.

    ``train(*inputs, out, config, process, settings=..., **options)`` is the stage's trainer.
    """
    from ..runtime.process import joined

    settings = _run_settings(flags, not no_progress)
    config = make_config(preset, yaml_file, **flags)
    with joined(settings.device) as process:
        last = train(*inputs, out, config, process, settings=settings, **options)
    click.echo(_summary(out, last))


@_training_command("stage1", STAGE1, RUN, Stage1Config(), "Table A4", "Local timm ViT weights file.")
def stage1(data, scribbles, out, preset, yaml_file, train_split, pretrained, reconfigure, no_progress, **flags) -> None:
    """Train stage 1 (scribble-promoted ToCo); rerun the same command to resume."""
    from ..stage1.config import make_stage1_config
    from ..stage1.train import train_stage1

    options = dict(split=train_split, pretrained=pretrained, reconfigure=reconfigure)
    _train(make_stage1_config, train_stage1, (data, scribbles), out, preset, yaml_file, flags, no_progress, **options)


@_training_command(
    "stage2", STAGE2, RUN + RUN_STAGE2, Stage2Config(), "Table A5", "torchvision ResNet state dict (ImageNet)."
)
@click.option(
    "--pseudo",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder of pseudo-label PNGs (255 = uncertain; 16-bit: 65535).",
)
@click.option("--num-classes", type=int, default=None, help="Default: from --data/meta.json.")
def stage2(
    data,
    scribbles,
    pseudo,
    out,
    preset,
    yaml_file,
    train_split,
    num_classes,
    pretrained,
    reconfigure,
    no_progress,
    **flags,
) -> None:
    """Train stage 2 (DeepLabV3+ with LoRM and DPM); rerun the same command to resume."""
    from ..stage2.config import make_stage2_config
    from ..stage2.train import train_stage2

    options = dict(split=train_split, num_classes=num_classes, pretrained=pretrained, reconfigure=reconfigure)
    inputs = (data, scribbles, pseudo)
    _train(make_stage2_config, train_stage2, inputs, out, preset, yaml_file, flags, no_progress, **options)


@main.command("pseudo")
@click.option("--data", type=click.Path(path_type=Path), required=True)
@click.option("--checkpoint", type=click.Path(path_type=Path), required=True, help=f"A stage-1 run's {CHECKPOINT}.")
@click.option("--scribbles", required=True, help="Scribble folder: its classes are each image's labels.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the pseudo-label PNGs.")
@click.option("--split", default="train", show_default=True, help=SPLIT_HELP)
@click.option("--batch-size", type=int, default=4, show_default=True)
@click.option("--par/--no-par", default=True, show_default=True, help="Refine with PAR.")
@click.option("--source", type=click.Choice(PSEUDO_SOURCES), default="cam", show_default=True, help=SOURCE_HELP)
@device_option
@click.option("--no-progress", is_flag=True)
def pseudo(data, checkpoint, scribbles, out, split, batch_size, par, source, device, no_progress) -> None:
    """Pseudo-labels (255 = uncertain; 16-bit above 255 classes: 65535) from a stage-1 checkpoint, and their mIoU (Table VII)."""
    from ..runtime.process import joined
    from ..stage1.pseudo import generate_pseudo_labels

    with joined(device) as process:
        summary = generate_pseudo_labels(
            data,
            checkpoint,
            out,
            process,
            split=split,
            scribbles=scribbles,
            batch_size=batch_size,
            use_par=par,
            source=source,
            progress=not no_progress,
        )
    click.echo(
        f"{out}: {summary['images']} images, pseudo-label mIoU {100 * summary['miou']:.2f} "
        f"(uncertain pixels {100 * summary['uncertain_share']:.1f} %)"
    )


@main.command("eval")
@click.option("--data", type=click.Path(path_type=Path), required=True)
@click.option("--checkpoint", type=click.Path(path_type=Path), required=True, help=f"A stage-2 run's {CHECKPOINT}.")
@click.option("--val-split", default="val", show_default=True, help=SPLIT_HELP)
@protocol_options
@click.option(
    "--base-size",
    type=int,
    default=None,
    help="authors: long side at scale 1 [default: the run's, 512; cityscapes preset 2048].",
)
@click.option("--window", type=int, default=None, help="authors: sliding-window side [default: the run's crop size].")
@click.option("--save-predictions", type=click.Path(path_type=Path), default=None, help="Folder for label PNGs.")
@inference_options
def eval_command(
    data,
    checkpoint,
    val_split,
    protocol,
    scales,
    flip,
    base_size,
    window,
    save_predictions,
    device,
    workers,
    no_progress,
) -> None:
    """mIoU of a checkpoint; writes the evaluation record next to it and prints per-class IoU."""
    from ..data.layout import class_names_of
    from ..runtime.process import joined
    from ..stage2.evaluate import evaluate_checkpoint
    from ..stage2.protocol import ProtocolChoice, describe_protocol

    with joined(device) as process:
        scores = evaluate_checkpoint(
            data,
            checkpoint,
            val_split,
            process,
            protocol=ProtocolChoice(protocol, scales, flip, base_size, window),
            save_dir=save_predictions,
            workers=workers,
            progress=not no_progress,
        )
    names = class_names_of(data)
    names += [f"class {k}" for k in range(len(names), len(scores["iou"]))]
    for name, iou in zip(names, scores["iou"]):
        click.echo(f"{name:>20}  {100 * iou:6.2f}" if iou == iou else f"{name:>20}     n/a")
    every = (
        "" if scores["miou_all_classes"] == scores["miou"] else f", all classes {100 * scores['miou_all_classes']:.2f}"
    )
    click.echo(f"mIoU {100 * scores['miou']:.2f}  (present classes {100 * scores['miou_present']:.2f}{every})")
    if "dice" in scores:  # the images are slices of volumes: the medical field's Dice, per 3D volume
        per_class = ", ".join(
            f"{name} {100 * dice:.2f}" for name, dice in zip(names[1:], scores["dice_per_class"]) if dice == dice
        )
        click.echo(f"Dice per volume {100 * scores['dice']:.2f} over {scores['volumes']} volumes ({per_class})")
    click.echo(f"protocol: {describe_protocol(scores['protocol'])}")


@main.command("predict")
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--checkpoint", type=click.Path(path_type=Path), required=True, help=f"A stage-2 run's {CHECKPOINT}.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the labels.")
@protocol_options
@click.option("--overlay", is_flag=True, help="Also write colour overlays of the images, under OUT/overlay/.")
@inference_options
def predict(inputs, checkpoint, out, protocol, scales, flip, overlay, device, workers, no_progress) -> None:
    """Segment images and volumes (files or folders): one label PNG of class ids per image, at its size.

    A medical volume (WSL4MIS .h5; .nii/.nii.gz with the medical extra) is cut into slices as
    the ACDC build cuts it and gets a label volume of its name, format and geometry (a
    NIfTI's shape, affine and header). Uses the checkpoint's own settings and the
    evaluation's protocols, so scoring the PNGs gives ``csptrain eval``'s mIoU. Outputs that
    exist are kept (a rerun resumes); a file that cannot be read is reported in one line,
    the others are written, and the exit status is 1.
    """
    import numpy as np

    from ..errors import DataError
    from ..inference.predict_files import collect_jobs, predict_jobs
    from ..inference.predictor import model_on
    from ..runtime.process import joined, sum_over_ranks
    from ..stage2.evaluate import default_workers

    jobs, problems = collect_jobs(inputs, out)
    if not jobs:
        raise DataError(problems[0] if len(problems) == 1 else f"no images or volumes among {len(inputs)} inputs")
    with joined(device) as process:
        model = model_on(checkpoint, process)
        chosen = model.protocol(protocol, scales=scales or None, flip=flip)

        def report(line: str) -> None:
            click.echo(f"error: {line}", err=True)

        if process.is_main:
            for line in problems:
                report(line)
        counts = predict_jobs(
            model,
            jobs[process.rank :: process.world],
            out,
            chosen,
            overlay=overlay,
            workers=default_workers(process.device) if workers is None else workers,
            progress=not no_progress and process.is_main,
            report=report,
        )
        written, failed = (int(n) for n in sum_over_ranks(np.array(counts), process))  # also waits for every rank
        if process.is_main:
            kept = len(jobs) - written - failed
            click.echo(f"{out}: {written} labels written, {kept} already there, {failed} unreadable")
    if failed or problems:
        raise SystemExit(1)


@main.command("export")
@click.option("--checkpoint", type=click.Path(path_type=Path), required=True, help=f"A stage-2 run's {CHECKPOINT}.")
@click.option("--format", "file_format", type=click.Choice(EXPORT_FORMATS), required=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="The file to write.")
def export(checkpoint, file_format, out) -> None:
    """Write a stage-2 model for deployment: float32 RGB 0-255 (N, 3, H, W) in, logits (N, C, H, W) out.

    N, H and W are free and the normalisation is inside the graph. The written file is then
    run beside the PyTorch model on random images, and the largest difference printed.
    """
    from ..inference.export import check_export, export_model
    from ..inference.predictor import load_model

    model = load_model(checkpoint, device="cpu")
    export_model(model, out, file_format)
    check = check_export(model, out, file_format)
    sizes = ", ".join(f"{n}x3x{h}x{w}" for n, h, w in check.shapes)
    click.echo(f"{out}: {file_format}, {model.num_classes} classes, step {model.step}")
    click.echo(
        f"check against PyTorch on random images ({sizes}): largest logit difference {check.max_difference:.2e}, "
        f"same class on {100 * check.agreement:.3f} % of pixels"
    )


@main.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--figure",
    type=click.Path(path_type=Path),
    default=Path("report.png"),
    show_default=True,
    help="PNG of the runs' mIoU, per-class IoU, loss and learning rate.",
)
def report(run_dirs, figure) -> None:
    """Per-seed mIoU, mean and std over runs (Tables II/III), and a picture of them."""
    from scribblesim.sets.files import write_bytes_atomic

    from ..reporting.figure import report_png
    from ..reporting.report import format_report, read_runs

    click.echo(format_report(read_runs(run_dirs)))
    write_bytes_atomic(figure, report_png(run_dirs))
    click.echo(f"figure: {figure}")


@main.command("run")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="A scribblesim build output.")
@click.option("--seeds", type=SEED, multiple=True, metavar="SEED [SEED ...]", help="Scribble seeds: --seeds 1 2 3.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder of all runs and the report.")
@click.option("--preset", type=PRESET, default=None, help="Tables A4 (stage 1) and A5 (stage 2).")
@click.option("--train-split", default="train", show_default=True, help=SPLIT_HELP)
@click.option("--val-split", default="val", show_default=True, help=SPLIT_HELP)
@click.option("--pretrained", type=click.Path(path_type=Path), default=None, help="Stage-2 ResNet state dict.")
@click.option("--stage1-pretrained", type=click.Path(path_type=Path), default=None, help="Stage-1 timm ViT weights.")
@click.option("--stage1-config", type=click.Path(path_type=Path), default=None, help="YAML overrides for stage 1.")
@click.option("--stage2-config", type=click.Path(path_type=Path), default=None, help="YAML overrides for stage 2.")
@click.option("--par/--no-par", default=True, show_default=True, help="Refine pseudo-labels with PAR.")
@click.option("--pseudo-source", type=click.Choice(PSEUDO_SOURCES), default="cam", show_default=True, help=SOURCE_HELP)
@protocol_options
@click.option(
    "--preview",
    type=click.IntRange(min=0),
    default=4,
    show_default=True,
    help="Val images whose prediction goes in OUT/preview/ beside their ground truth (0: none).",
)
@options_from(STAGE2 + COMMON, defaults=Stage2Config())
@options_from(RUN + RUN_STAGE2 + STEPS, defaults=RUN_DEFAULTS)
@options_from(STAGE1 + COMMON + STEPS, prefix="stage1-", defaults=Stage1Config())
@click.option("--dry-run", is_flag=True, help="Print the plan and stop.")
@click.option("--no-progress", is_flag=True)
def run(
    data,
    seeds,
    out,
    preset,
    train_split,
    val_split,
    pretrained,
    stage1_pretrained,
    stage1_config,
    stage2_config,
    par,
    pseudo_source,
    protocol,
    scales,
    flip,
    preview,
    dry_run,
    no_progress,
    **flags,
) -> None:
    """Stage 1 -> pseudo-labels -> stage 2 -> eval for each seed, then the report; reruns resume."""
    from ..pipeline import PipelineSpec, run_pipeline
    from ..stage1.config import make_stage1_config
    from ..stage2.config import make_stage2_config

    seeds = tuple(dict.fromkeys(seeds))
    stage1_flags = take_prefixed(flags, "stage1_")
    shared = {name.lstrip("-").split("/")[0].replace("-", "_") for name, _ in COMMON + STEPS}
    for name in shared:  # a shared flag applies to stage 1 unless --stage1-NAME overrides it
        if stage1_flags.get(name) is None:
            stage1_flags[name] = flags.get(name)
    settings = _run_settings(flags, not no_progress)
    stage1_max_steps, stage1_accumulate = stage1_flags.pop("max_steps"), stage1_flags.pop("accumulate")
    spec = PipelineSpec(
        data=data,
        seeds=seeds,
        out=out,
        preset=preset,
        train_split=train_split,
        val_split=val_split,
        stage1=make_stage1_config(preset, stage1_config, **stage1_flags),
        stage2=make_stage2_config(preset, stage2_config, **flags),
        settings=settings,
        stage1_max_steps=stage1_max_steps,
        stage1_accumulate=stage1_accumulate,
        stage1_pretrained=stage1_pretrained,
        stage2_pretrained=pretrained,
        use_par=par,
        pseudo_source=pseudo_source,
        eval_protocol=protocol,
        eval_scales=tuple(scales),
        eval_flip=flip,
        preview=preview,
    )
    run_pipeline(spec, dry_run=dry_run, echo=click.echo)

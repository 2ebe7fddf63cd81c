"""The ``csptrain`` command line: stage2, eval, report."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from .data import DataError
from .presets import LOSS_TERMS, PRESETS, make_config


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group()
@click.version_option(package_name="scribblesim")
def main() -> None:
    """Train CSPNet on scribbles and evaluate it."""


@main.command("stage2")
@click.option("--data", type=click.Path(path_type=Path), required=True, help="A scribblesim build output.")
@click.option("--scribbles", required=True, help="Scribble folder under --data, e.g. coco2014_train_scribble_r1.")
@click.option("--pseudo", type=click.Path(path_type=Path), default=None, help="Folder of pseudo-label PNGs (255 = uncertain).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Run folder (checkpoints, TensorBoard).")
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default=None, help="Table A5 hyper-parameters.")
@click.option("--config", "yaml_file", type=click.Path(path_type=Path), default=None, help="YAML file of config overrides.")
@click.option("--train-split", default="train", show_default=True)
@click.option("--num-classes", type=int, default=None, help="Default: from --data/meta.json.")
@click.option("--pretrained", type=click.Path(path_type=Path), default=None, help="torchvision ResNet state dict (ImageNet).")
@click.option("--losses", default=None, help=f"Comma-separated subset of {','.join(LOSS_TERMS)}.")
@click.option("--backbone", type=click.Choice(["resnet18", "resnet50", "resnet101"]), default=None)
@click.option("--lr", type=float, default=None)
@click.option("--lambda-segc", type=float, default=None)
@click.option("--lambda-lorm", type=float, default=None)
@click.option("--lambda-s", type=float, default=None)
@click.option("--lambda-c", type=float, default=None)
@click.option("--epochs", type=int, default=None)
@click.option("--max-steps", type=int, default=None)
@click.option("--batch-size", type=int, default=None)
@click.option("--crop-size", type=int, default=None)
@click.option("--seed", type=int, default=None)
@click.option("--workers", type=int, default=None)
@click.option("--device", default=None, help="auto, cpu, cuda, cuda:1 ...")
@click.option("--bf16/--no-bf16", default=None)
@click.option("--channels-last/--no-channels-last", default=None)
@click.option("--compile/--no-compile", "compile_", default=None)
@click.option("--checkpoint-every", type=int, default=None)
@click.option("--no-progress", is_flag=True)
def stage2(data, scribbles, pseudo, out, preset, yaml_file, train_split, num_classes, pretrained, no_progress, compile_, **overrides) -> None:
    """Train stage 2 (DeepLabV3+ with LoRM and DPM); rerun the same command to resume."""
    from .train import train_stage2

    try:
        config = make_config(preset, yaml_file, compile=compile_, **overrides)
        last = train_stage2(data, scribbles, pseudo, out, config, split=train_split, num_classes=num_classes,
                            pretrained=pretrained, progress=not no_progress)
    except (DataError, ValueError) as error:
        _fail(str(error))
    click.echo(f"{out}: step {last['step']}, loss {last.get('loss', float('nan')):.4f}")


@main.command("eval")
@click.option("--data", type=click.Path(path_type=Path), required=True)
@click.option("--checkpoint", type=click.Path(path_type=Path), required=True, help="A run's last.pt.")
@click.option("--val-split", default="val", show_default=True)
@click.option("--scales", type=float, multiple=True, default=(1.0,), show_default=True, help="Repeat for multi-scale.")
@click.option("--flip", is_flag=True, help="Average with horizontally flipped predictions.")
@click.option("--save-predictions", type=click.Path(path_type=Path), default=None, help="Folder for palette PNGs.")
@click.option("--device", default="auto", show_default=True)
@click.option("--no-progress", is_flag=True)
def eval_command(data, checkpoint, val_split, scales, flip, save_predictions, device, no_progress) -> None:
    """mIoU of a checkpoint; writes eval.json next to it and prints per-class IoU."""
    import torch

    from .evaluate import evaluate
    from .presets import Stage2Config
    from .train import Stage2Model, pick_device

    try:
        state = torch.load(checkpoint, map_location="cpu", weights_only=False)
    except FileNotFoundError:
        _fail(f"{checkpoint}: checkpoint not found")
    except Exception as error:  # torch raises many types for corrupt files
        _fail(f"{checkpoint}: unreadable checkpoint ({type(error).__name__})")
    config_values = dict(state["config"])
    config_values["losses"] = tuple(config_values["losses"])
    config = Stage2Config(**config_values)
    model = Stage2Model(config, state["num_classes"], None)
    model.load_state_dict(state["model"])
    target = pick_device(device)
    try:
        scores = evaluate(model.to(target), data, val_split, state["num_classes"], scales=scales, flip=flip,
                          device=target, save_dir=save_predictions, progress=not no_progress)
    except (DataError, ValueError) as error:
        _fail(str(error))
    (Path(checkpoint).parent / "eval.json").write_text(json.dumps(scores, indent=1))
    names = _class_names(data, state["num_classes"])
    for name, iou in zip(names, scores["iou"]):
        click.echo(f"{name:>20}  {100 * iou:6.2f}" if iou == iou else f"{name:>20}     n/a")
    click.echo(f"mIoU {100 * scores['miou']:.2f}  (present classes {100 * scores['miou_present']:.2f})")


def _class_names(data: Path, count: int) -> list[str]:
    try:
        names = json.loads((Path(data) / "meta.json").read_text())["classes"]
    except (OSError, ValueError, KeyError):
        names = []
    return [names[k] if k < len(names) else f"class {k}" for k in range(count)]


@main.command("report")
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path(path_type=Path))
def report(run_dirs) -> None:
    """Per-seed mIoU, mean and std over runs (Tables II/III)."""
    from .report import format_report, read_runs

    try:
        click.echo(format_report(read_runs(run_dirs)))
    except ValueError as error:
        _fail(str(error))

"""Stage-2 training: DeepLabV3+ with LoRM and DPM on scribbles + pseudo-labels."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from ..data.batches import Stage2Batch
from ..data.labels import IGNORE
from ..data.layout import IMAGENET_MEAN, IMAGENET_STD, class_names_of
from ..data.loader import steps_per_epoch
from ..data.stage2 import Augment, ScribbleDataset
from ..errors import ConfigError
from ..losses.partial import partial_cross_entropy, pixel_entropy, weighted_entropy
from ..models.lorm import LoRM
from ..models.stage2 import Stage2Model
from ..runs import TrainingRun
from ..runtime.accumulation import BatchPlan, backward_over, batch_plan
from ..runtime.checkpoints import Trained, load_trained
from ..runtime.process import Process
from ..runtime.schedule import lr_at, warmup_steps_for
from ..runtime.settings import RUN_DEFAULTS, RunSettings
from ..runtime.trainer import StageTraining, train_run
from .config import Stage2Config, make_stage2_config


def stage2_losses(
    outputs: dict, batch: Stage2Batch, config: Stage2Config, lorm: LoRM | None
) -> dict[str, torch.Tensor]:
    """The enabled loss terms, each already weighted (Eqs. 5-8, 14, 16, 18, 19)."""
    logits, terms = outputs["out"], {}
    if "segs" in config.losses:
        terms["segs"] = partial_cross_entropy(logits, batch["scribble"])
    if "segc" in config.losses:
        pseudo = batch["pseudo"]
        if config.uncertain == "background":  # as the authors' LoRM forward, in place, before this CE
            pseudo = pseudo.masked_fill(pseudo == IGNORE, 0)
        terms["segc"] = config.lambda_segc * partial_cross_entropy(logits, pseudo, config.label_smoothing)
    if "ds" in config.losses or "dc" in config.losses:
        entropy = pixel_entropy(logits)
        if "ds" in config.losses:
            terms["ds"] = weighted_entropy(entropy, batch["d_s"])
        if "dc" in config.losses:
            terms["dc"] = weighted_entropy(entropy, batch["d_c"])
    if lorm is not None:
        features = outputs["features"]
        pseudo = batch["pseudo"]
        foreground = ((pseudo != 0) & (pseudo != IGNORE)).float()[:, None]
        # As the authors: bilinear (corners aligned) to the feature grid, foreground wherever > 0.
        foreground = F.interpolate(foreground, size=features.shape[-2:], mode="bilinear", align_corners=True)
        foreground = (foreground[:, 0] > 0).float()
        terms["lorm"] = config.lambda_lorm * lorm(features, foreground)
    return terms


def train_step(
    model: Stage2Model,
    forward: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[Stage2Batch],
    config: Stage2Config,
    lr: float,
    bf16: bool,
    channels_last: bool = True,
) -> dict[str, torch.Tensor]:
    """One optimisation step on micro-batches already on the device; returns the loss terms.

    ``forward`` is ``model`` itself or its compiled / DDP wrapper; the micro-batches'
    gradients are accumulated (one batch is the usual step). CUDA batches go in
    ``channels_last`` unless that is off.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr

    def losses(batch: Stage2Batch) -> dict[str, torch.Tensor]:
        images = batch["image"]
        if channels_last and images.is_cuda:
            images = images.contiguous(memory_format=torch.channels_last)
        with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
            return stage2_losses(forward(images), batch, config, model.lorm)

    optimizer.zero_grad(set_to_none=True)
    terms = backward_over(forward, batches, losses)
    optimizer.step()
    return terms


def scaled_lr(lr: float, batches: int) -> float:
    """The learning rate of ``batches`` batches of ``batch_size`` per step: ``lr`` x batches, as the authors' script.

    Table A5's batch of 16 is each GPU's (their ``DistributedSampler``) and their script
    multiplies the rate by the GPU count (the linear scaling rule); an accumulated
    micro-batch counts as a GPU.
    """
    return lr * batches


@dataclass(frozen=True)
class Stage2Schedule:
    """Stage 2's batch plan and its steps: micro-batches per epoch, the schedule's length, the last step."""

    plan: BatchPlan
    micro_batches_per_epoch: int
    total: int
    stop: int


def stage2_schedule(
    config: Stage2Config, size: int, world: int, split: str, settings: RunSettings = RUN_DEFAULTS
) -> Stage2Schedule:
    """The schedule of ``size`` training images on ``world`` processes (epochs of optimisation steps).

    ``settings`` split each step into micro-batches and may stop the run early.
    """
    plan = batch_plan(config.batch_size, world, settings.accumulate, None)
    micro = steps_per_epoch(size, config.batch_size, world, split)
    if micro < plan.accumulate:
        raise ConfigError(f"{split}: {size} images are fewer than one step's batch ({plan.describe()})")
    total = config.schedule_length(micro // plan.accumulate)
    return Stage2Schedule(plan, micro, total, settings.stop(total))


def build_stage2(
    config: Stage2Config,
    num_classes: int,
    pretrained: Path | None,
    device: torch.device,
    world: int = 1,
    channels_last: bool = True,
) -> tuple[Stage2Model, torch.optim.Optimizer]:
    """The model on ``device`` and its optimiser (SGD, or AdamW); SyncBN across ``world`` > 1 CUDA processes.

    (PyTorch's SyncBN runs on GPUs only: CPU processes keep per-process BatchNorm.) On
    CUDA the weights are stored ``channels_last`` unless that is off.
    """
    model = stage2_model(config, num_classes, pretrained)
    if world > 1 and device.type == "cuda":
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(device)
    if channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer: torch.optim.Optimizer
    if config.optimizer == "adamw":
        optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    else:
        optimizer = torch.optim.SGD(
            model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    return model, optimizer


def train_stage2(
    data: Path,
    scribbles: str,
    pseudo: Path | None,
    out: Path,
    config: Stage2Config,
    process: Process,
    *,
    settings: RunSettings = RUN_DEFAULTS,
    split: str = "train",
    num_classes: int | None = None,
    pretrained: Path | None = None,
    reconfigure: bool = False,
) -> dict:
    """Train (or resume) a stage-2 run in ``out``; return the last step's numbers.

    Resuming, stops and reruns as :func:`~csptrain.runtime.trainer.train_run`; a
    checkpoint is also saved at each epoch's end. ``process``: the device and this
    process's place in the job (from :func:`~csptrain.runtime.process.joined`); ``settings``:
    how the run runs.
    """
    process.seed_torch(config.seed)
    names = class_names_of(data) if num_classes is None else None  # a given class count may have no names
    classes = num_classes or len(names or ())
    augment = Augment(
        config.crop_size,
        config.scale_min,
        config.scale_max,
        max_angle=config.rotation,
        blur=config.blur,
        map_fill=config.dpm_pad,
    )
    dataset = ScribbleDataset(data, split, scribbles, pseudo, augment, config.lambda_s, config.lambda_c, config.seed)
    schedule = stage2_schedule(config, len(dataset), process.world, split, settings)
    warmup = warmup_steps_for(schedule.total, config.epochs, config.warmup_epochs)
    model, optimizer = build_stage2(
        config, classes, pretrained, process.device, process.world, channels_last=settings.channels_last
    )
    bf16 = settings.bf16 and process.bf16
    base_lr = scaled_lr(config.lr, schedule.plan.processes * schedule.plan.accumulate)

    def optimise(
        forward: torch.nn.Module, batches: Sequence[Stage2Batch], step: int
    ) -> tuple[dict[str, torch.Tensor], float]:
        lr = lr_at(step, base_lr, schedule.total, warmup)
        return train_step(model, forward, optimizer, batches, config, lr, bf16, settings.channels_last), lr

    stage = StageTraining(
        name="stage2",
        model=model,
        optimizer=optimizer,
        dataset=dataset,
        per_epoch=schedule.micro_batches_per_epoch,
        plan=schedule.plan,
        stop=schedule.stop,
        num_classes=classes,
        inputs={
            "data": str(Path(data).resolve()),
            "scribbles": scribbles,
            "pseudo": str(Path(pseudo).resolve()) if pseudo else None,
        },
        optimise=optimise,
        rate=("images_per_s", "img_s"),
        samples_per_step=config.batch_size,
        save_every_epoch=True,
        compile=settings.compile,
        about=model_about(names),
    )
    return train_run(TrainingRun(out), process, config, stage, settings=settings, reconfigure=reconfigure)


def model_about(class_names: list[str] | None) -> dict:
    """What a stage-2 checkpoint records for its users: class names and the input normalisation."""
    normalisation = {"mean": IMAGENET_MEAN.tolist(), "std": IMAGENET_STD.tolist(), "max_value": 255}
    return {"normalisation": normalisation, **({"class_names": class_names} if class_names else {})}


def stage2_model(config: Stage2Config, num_classes: int, pretrained: Path | None = None) -> Stage2Model:
    """The stage-2 model that ``config`` describes (LoRM only when its loss is on)."""
    lorm_mask = config.lorm_mask if "lorm" in config.losses else None
    return Stage2Model(
        config.backbone,
        num_classes,
        pretrained,
        lorm_mask=lorm_mask,
        segmentor=config.segmentor,
        output_stride=config.output_stride,
    )


def load_stage2_model(checkpoint: Path) -> Trained[Stage2Model, Stage2Config]:
    """The model of a stage-2 checkpoint (on the CPU), its config, class count and step."""
    return load_trained(checkpoint, make_stage2_config, stage2_model)

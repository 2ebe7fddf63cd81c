"""Stage-2 training: DeepLabV3+ with LoRM and DPM on scribbles + pseudo-labels."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch.nn import functional as F

from scribblesim.engine.result import UNLABELLED as IGNORE

from ..data.layout import class_names_of
from ..data.stage2 import Augment, ScribbleDataset
from ..losses.partial import partial_cross_entropy, weighted_entropy
from ..models.deeplabv3plus import deeplabv3plus
from ..models.lorm import LoRM
from ..runtime import (
    Process,
    TrainLog,
    batches_from,
    end_process,
    read_progress,
    record_config,
    resume,
    run_training,
    save_checkpoint,
    start_process,
    steps_per_epoch,
)
from ..schedule import lr_at, warmup_steps_for
from .config import Stage2Config


class Stage2Model(torch.nn.Module):
    """The segmentor and, when enabled, LoRM (a loss module with parameters of its own).

    ``forward`` runs the segmentor only; LoRM is applied by :func:`stage2_losses`.
    """

    def __init__(self, config: Stage2Config, num_classes: int, pretrained: Path | None = None) -> None:
        super().__init__()
        self.segmentor = deeplabv3plus(config.backbone, num_classes, pretrained)
        channels = self.segmentor.aspp.convs[0][0].in_channels
        self.lorm = LoRM(channels, mask=config.lorm_mask) if "lorm" in config.losses else None

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.segmentor(images)


def stage2_losses(outputs: dict, batch: dict, config: Stage2Config, lorm: LoRM | None) -> dict[str, torch.Tensor]:
    """The enabled loss terms, each already weighted (Eqs. 5-8, 14, 16, 18, 19)."""
    logits, terms = outputs["out"], {}
    if "segs" in config.losses:
        terms["segs"] = partial_cross_entropy(logits, batch["scribble"])
    if "segc" in config.losses:
        terms["segc"] = config.lambda_segc * partial_cross_entropy(logits, batch["pseudo"], config.label_smoothing)
    if "ds" in config.losses:
        terms["ds"] = weighted_entropy(logits, batch["d_s"])
    if "dc" in config.losses:
        terms["dc"] = weighted_entropy(logits, batch["d_c"])
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
    batch: dict,
    config: Stage2Config,
    lr: float,
    bf16: bool,
) -> dict[str, torch.Tensor]:
    """One optimisation step on a batch already on the device; returns the loss terms.

    ``forward`` is ``model`` itself or its compiled / DDP wrapper.
    """
    for group in optimizer.param_groups:
        group["lr"] = lr
    images = batch["image"]
    if config.channels_last and images.is_cuda:
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        terms = stage2_losses(forward(images), batch, config, model.lorm)
    loss = sum(terms.values())
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()
    return terms


def build_stage2(
    config: Stage2Config, num_classes: int, pretrained: Path | None, device: torch.device
) -> tuple[Stage2Model, torch.optim.Optimizer]:
    """The model on ``device`` and its SGD optimiser."""
    model = Stage2Model(config, num_classes, pretrained).to(device)
    if config.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
    )
    return model, optimizer


def _wrap(model: torch.nn.Module, config: Stage2Config, process: Process) -> torch.nn.Module:
    forward = torch.compile(model) if config.compile else model
    if process.world > 1:
        ids = [process.device.index] if process.device.type == "cuda" else None
        forward = torch.nn.parallel.DistributedDataParallel(forward, device_ids=ids)
    return forward


def train_stage2(
    data: Path,
    scribbles: str,
    pseudo: Path | None,
    out: Path,
    config: Stage2Config,
    *,
    split: str = "train",
    num_classes: int | None = None,
    pretrained: Path | None = None,
    progress: bool = True,
    reconfigure: bool = False,
) -> dict:
    """Train (or resume) a stage-2 run in ``out``; return the last step's numbers.

    The run resumes from ``out/last.pt`` when it exists: same step, same learning rate,
    same data order. Resuming with other settings is refused unless ``reconfigure``
    (see :func:`~csptrain.runtime.record_config`); a finished run returns its last
    numbers without training. SIGINT or SIGTERM saves a checkpoint and raises
    :class:`~csptrain.runtime.StopRequested`.
    """
    process = start_process(config.device)
    torch.manual_seed(config.seed + process.rank)
    num_classes = num_classes or len(class_names_of(data))
    augment = Augment(
        config.crop_size,
        config.scale_min,
        config.scale_max,
        max_angle=config.rotation,
        blur=config.blur,
        map_fill=config.dpm_pad,
    )
    dataset = ScribbleDataset(data, split, scribbles, pseudo, augment, config.lambda_s, config.lambda_c, config.seed)
    per_epoch = steps_per_epoch(len(dataset), config.batch_size, process.world, split)
    total_steps, stop = config.steps(per_epoch)
    warmup = warmup_steps_for(total_steps, config.epochs, config.warmup_epochs)

    model, optimizer = build_stage2(config, num_classes, pretrained, process.device)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step = resume(out, model, optimizer)
    if process.is_main:
        record_config(
            out,
            {
                **config.to_dict(),
                "data": str(Path(data).resolve()),
                "scribbles": scribbles,
                "pseudo": str(Path(pseudo).resolve()) if pseudo else None,
                "num_classes": num_classes,
            },
            resuming=step > 0,
            reconfigure=reconfigure,
        )
    forward = _wrap(model, config, process)
    log = TrainLog(out, process, stop, step, "stage2", progress)
    bf16 = config.bf16 and process.bf16
    model.train()
    started = time.perf_counter()

    def take_step(batch: dict, step: int) -> dict:
        nonlocal started
        lr = lr_at(step, config.lr, total_steps, warmup)
        terms = train_step(model, forward, optimizer, batch, config, lr, bf16)
        rate = batch["image"].shape[0] * process.world / (time.perf_counter() - started)
        started = time.perf_counter()
        values = {k: float(v.detach()) for k, v in terms.items()}
        last = {"step": step + 1, "lr": lr, "loss": sum(values.values()), **values}
        log.step(
            step + 1,
            {**{k: v for k, v in last.items() if k != "step"}, "images_per_s": rate},
            loss=last["loss"],
            img_s=rate,
        )
        return last

    def save(step: int, last: dict) -> None:
        if process.is_main:
            save_checkpoint(out, model, optimizer, step, stop, config, num_classes, last)

    batches = batches_from(step, dataset, config.batch_size, per_epoch, config.workers, config.seed, process)
    try:
        step, last = run_training(
            out, step, stop, batches, take_step, save, lambda s: s % config.checkpoint_every == 0 or s % per_epoch == 0
        )
    finally:
        log.close()
        end_process(process)
    return last or read_progress(out).get("last", {"step": step})

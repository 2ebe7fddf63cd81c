"""Stage-1 training: scribble-promoted ToCo (ToCo's losses + lambda_segs L_segs, Eq. 9)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch.nn import functional as F

from ..data.batches import Stage1Batch
from ..data.layout import class_names_of, denormalise
from ..data.loader import steps_per_epoch
from ..data.stage1 import Stage1Dataset, ToCoAugment
from ..losses.energy import dense_energy_loss
from ..losses.partial import partial_cross_entropy
from ..losses.toco import background_foreground_ce, classification_loss, ctc_loss, ptc_loss
from ..models.toco import ToCoNet, toco_vit
from ..runs import TrainingRun
from ..runtime.accumulation import backward_over, batch_plan
from ..runtime.checkpoints import Trained, load_trained
from ..runtime.process import Process
from ..runtime.schedule import poly_warmup_multiplier
from ..runtime.settings import RUN_DEFAULTS, RunSettings
from ..runtime.trainer import StageTraining, train_run
from .cam import (
    box_mask,
    cams_to_labels,
    local_crops,
    masked_cams,
    multi_scale_cams,
    refine_labels,
    roi_mask,
    scale_boxes,
)
from .config import Stage1Config, make_stage1_config
from .par import PAR


def stage1_network(config: Stage1Config, num_classes: int, weights: Path | None = None) -> ToCoNet:
    """The ViT and heads ``config`` describes (``weights``: a local timm checkpoint of its backbone)."""
    return toco_vit(
        config.backbone,
        num_classes,
        weights,
        img_size=config.crop_size,
        segs_head=config.segs_head,
        ema_momentum=config.ema_momentum,
        patch_size=config.patch_size,
    )


def build_stage1(
    config: Stage1Config, num_classes: int, pretrained: Path | None, device: torch.device
) -> tuple[ToCoNet, torch.optim.Optimizer]:
    """The network on ``device`` and its AdamW with ToCo's parameter groups."""
    model = stage1_network(config, num_classes, pretrained).to(device)
    groups = model.param_groups()
    multipliers = {
        "backbone": 1.0,
        "backbone_norm": 1.0,
        "heads": config.head_lr_multiplier,
        "decoders": config.head_lr_multiplier,
    }
    optimizer = torch.optim.AdamW(
        [
            {
                "params": groups[name],
                "lr": config.lr * multipliers[name],
                "name": name,
                "base_lr": config.lr * multipliers[name],
            }
            for name in multipliers
        ],
        lr=config.lr,
        betas=(config.betas[0], config.betas[1]),
        weight_decay=config.weight_decay,
        eps=1e-8,
    )
    return model, optimizer


def active_terms(step: int, config: Stage1Config) -> dict[str, float]:
    """Weights of the loss terms at ``step`` (0-based) under ToCo's schedule plus Eq. 9."""
    weights = {"cls": config.lambda_cls, "aux": config.lambda_cls}
    if step >= config.contrast_start * config.iterations:
        weights.update(ptc=config.w_ptc, ctc=config.w_ctc)
    if step >= config.seg_start * config.iterations:
        weights["seg"] = config.w_seg
        if config.w_reg > 0:
            weights["reg"] = config.w_reg
    if step >= config.segs_from:
        weights["segs"] = config.lambda_segs
    return weights


def stage1_losses(
    model: ToCoNet, forward: torch.nn.Module, batch: Stage1Batch, config: Stage1Config, step: int, par: PAR, bf16: bool
) -> dict[str, torch.Tensor]:
    """The active loss terms of one step, each already weighted.

    ``model`` is the bare network (CAMs are computed without gradients), ``forward`` the
    module that runs the training forward (``model`` or its DDP wrapper).
    """
    weights = active_terms(step, config)
    images, labels, boxes = batch["image"], batch["image_labels"], batch["box"]
    size = images.shape[-1]
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        cams, cams_aux = multi_scale_cams(model, images, config.cam_scales)
    views = None
    if "ctc" in weights:
        generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step)
        roi = roi_mask(cams_aux, labels, config.high_threshold, config.low_threshold)
        crops, flags = local_crops(batch["local_source"], roi, config.local_crops, config.local_crop_size, generator)
        views = [batch["global_view"], *crops]
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=bf16):
        outputs = forward(images, views)
    terms = {"cls": classification_loss(outputs["cls"], labels), "aux": classification_loss(outputs["cls_aux"], labels)}
    if "ctc" in weights:
        terms["ctc"] = ctc_loss(outputs["student"], outputs["teacher"], flags, config.ctc_temperature)
        grid = outputs["features"].shape[-1]
        grid_cams = F.interpolate(cams_aux, size=outputs["features"].shape[-2:], mode="bilinear", align_corners=False)
        token_labels = cams_to_labels(
            grid_cams, labels, config.high_threshold, config.low_threshold, scale_boxes(boxes, size, grid)
        )
        terms["ptc"] = ptc_loss(outputs["features"], token_labels)
    if "seg" in weights:
        # ToCo's COCO run takes the seg target from the aux CAM until PTC/CTC start
        source = cams_aux if step < config.contrast_start * config.iterations else cams
        pseudo = refine_labels(
            par,
            denormalise(images),
            masked_cams(source, labels),
            labels,
            config.high_threshold,
            config.low_threshold,
            boxes,
        )
        seg = F.interpolate(outputs["seg"].float(), size=images.shape[-2:], mode="bilinear", align_corners=False)
        terms["seg"] = background_foreground_ce(seg, pseudo)
        if "reg" in weights:
            terms["reg"] = dense_energy_loss(
                255 * denormalise(images), seg.softmax(1), box_mask(boxes, seg.shape[-2:]), pseudo
            )
    if "segs" in weights:
        segs = F.interpolate(outputs["segs"].float(), size=images.shape[-2:], mode="bilinear", align_corners=False)
        terms["segs"] = partial_cross_entropy(segs, batch["scribble"])
    return {name: weights[name] * value for name, value in terms.items()}


def set_learning_rates(optimizer: torch.optim.Optimizer, step: int, config: Stage1Config) -> float:
    """Apply ToCo's poly warm-up schedule to every group; return the backbone's rate."""
    multiplier = poly_warmup_multiplier(step, config.iterations, config.warmup_iters, config.warmup_ratio, config.power)
    for group in optimizer.param_groups:
        group["lr"] = group["base_lr"] * multiplier
    return optimizer.param_groups[0]["lr"]


def train_step(
    model: ToCoNet,
    forward: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Sequence[Stage1Batch],
    config: Stage1Config,
    step: int,
    par: PAR,
    bf16: bool,
) -> dict[str, torch.Tensor]:
    """One optimisation step (``step`` 0-based) on micro-batches already on the device; returns the terms.

    The micro-batches' gradients are accumulated (see
    :func:`~csptrain.runtime.accumulation.backward_over`); one batch is the usual step.
    """
    set_learning_rates(optimizer, step, config)
    optimizer.zero_grad(set_to_none=True)
    terms = backward_over(forward, batches, lambda batch: stage1_losses(model, forward, batch, config, step, par, bf16))
    optimizer.step()
    return terms


def train_stage1(
    data: Path,
    scribbles: str,
    out: Path,
    config: Stage1Config,
    process: Process,
    *,
    settings: RunSettings = RUN_DEFAULTS,
    split: str = "train",
    pretrained: Path | None = None,
    reconfigure: bool = False,
) -> dict:
    """Train (or resume) a stage-1 run in ``out``; return the last step's numbers.

    Image-level labels are the classes of each image's scribble. Resuming, stops and
    reruns as :func:`~csptrain.runtime.trainer.train_run`; the crop draws continue too.
    ``process``: the device and this process's place in the job (from
    :func:`~csptrain.runtime.process.joined`); ``settings``: how the run runs.
    """
    process.seed_torch(config.seed)
    num_classes = len(class_names_of(data))
    augment = ToCoAugment(config.crop_size, config.scale_min, config.scale_max)
    dataset = Stage1Dataset(data, split, scribbles, num_classes, augment, config.seed)
    model, optimizer = build_stage1(config, num_classes, pretrained, process.device)
    par = PAR(config.par_dilations, config.par_iterations).to(process.device)
    bf16 = settings.bf16 and process.bf16

    def optimise(
        forward: torch.nn.Module, batches: Sequence[Stage1Batch], step: int
    ) -> tuple[dict[str, torch.Tensor], float]:
        terms = train_step(model, forward, optimizer, batches, config, step, par, bf16)
        return terms, optimizer.param_groups[0]["lr"]

    stage = StageTraining(
        name="stage1",
        model=model,
        optimizer=optimizer,
        dataset=dataset,
        per_epoch=steps_per_epoch(len(dataset), config.batch_size, process.world, split),
        plan=batch_plan(config.batch_size, process.world, settings.accumulate, config.global_batch),
        stop=settings.stop(config.iterations),
        num_classes=num_classes,
        inputs={"data": str(Path(data).resolve()), "scribbles": scribbles, "split": split},
        optimise=optimise,
        find_unused_parameters=True,
    )
    return train_run(TrainingRun(out), process, config, stage, settings=settings, reconfigure=reconfigure)


def load_stage1_model(checkpoint: Path) -> Trained[ToCoNet, Stage1Config]:
    """The network of a stage-1 checkpoint (on the CPU), its config, class count and step."""

    return load_trained(checkpoint, make_stage1_config, stage1_network)

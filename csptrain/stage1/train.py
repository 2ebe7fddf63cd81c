"""Stage-1 training: scribble-promoted ToCo (ToCo's losses + lambda_segs L_segs, Eq. 9)."""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch.nn import functional as F

from ..data.layout import class_names_of, denormalise
from ..data.stage1 import Stage1Dataset, ToCoAugment
from ..errors import WeightsError
from ..losses.energy import dense_energy_loss
from ..losses.partial import partial_cross_entropy
from ..losses.toco import background_foreground_ce, classification_loss, ctc_loss, ptc_loss
from ..models.toco import ToCoNet, toco_vit
from ..runtime import (
    TrainLog,
    batches_from,
    end_process,
    load_checkpoint,
    read_progress,
    record_config,
    resume,
    run_training,
    save_checkpoint,
    start_process,
    steps_per_epoch,
)
from ..schedule import poly_warmup_multiplier
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


def build_stage1(
    config: Stage1Config, num_classes: int, pretrained: Path | None, device: torch.device
) -> tuple[ToCoNet, torch.optim.Optimizer]:
    """The network on ``device`` and its AdamW with ToCo's parameter groups."""
    model = toco_vit(
        config.backbone,
        num_classes,
        pretrained,
        img_size=config.crop_size,
        segs_head=config.segs_head,
        ema_momentum=config.ema_momentum,
    ).to(device)
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
        betas=tuple(config.betas),
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
    model: ToCoNet, forward: torch.nn.Module, batch: dict, config: Stage1Config, step: int, par: PAR, bf16: bool
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
    batch: dict,
    config: Stage1Config,
    step: int,
    par: PAR,
    bf16: bool,
) -> dict[str, torch.Tensor]:
    """One optimisation step (``step`` 0-based) on a batch already on the device; returns the terms."""
    set_learning_rates(optimizer, step, config)
    terms = stage1_losses(model, forward, batch, config, step, par, bf16)
    optimizer.zero_grad(set_to_none=True)
    sum(terms.values()).backward()
    optimizer.step()
    return terms


def train_stage1(
    data: Path,
    scribbles: str,
    out: Path,
    config: Stage1Config,
    *,
    split: str = "train",
    pretrained: Path | None = None,
    progress: bool = True,
    reconfigure: bool = False,
) -> dict:
    """Train (or resume) a stage-1 run in ``out``; return the last step's numbers.

    Image-level labels are the classes of each image's scribble. The run resumes from
    ``out/last.pt``: same step, learning rate, data order and crop draws. Resuming with
    other settings is refused unless ``reconfigure``; a finished run returns its last
    numbers; SIGINT or SIGTERM saves and raises :class:`~csptrain.runtime.StopRequested`.
    """
    process = start_process(config.device)
    torch.manual_seed(config.seed + process.rank)
    num_classes = len(class_names_of(data))
    dataset = Stage1Dataset(
        data,
        split,
        scribbles,
        num_classes,
        ToCoAugment(config.crop_size, config.scale_min, config.scale_max),
        config.seed,
    )
    per_epoch = steps_per_epoch(len(dataset), config.batch_size, process.world, split)
    model, optimizer = build_stage1(config, num_classes, pretrained, process.device)
    par = PAR(config.par_dilations, config.par_iterations).to(process.device)
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
                "split": split,
                "num_classes": num_classes,
            },
            resuming=step > 0,
            reconfigure=reconfigure,
        )
    forward = model
    if process.world > 1:
        ids = [process.device.index] if process.device.type == "cuda" else None
        forward = torch.nn.parallel.DistributedDataParallel(model, device_ids=ids, find_unused_parameters=True)
    log = TrainLog(out, process, config.stop, step, "stage1", progress)
    bf16 = config.bf16 and process.bf16
    model.train()
    started = time.perf_counter()

    def take_step(batch: dict, step: int) -> dict:
        nonlocal started
        terms = train_step(model, forward, optimizer, batch, config, step, par, bf16)
        rate = process.world / (time.perf_counter() - started)
        started = time.perf_counter()
        values = {k: float(v.detach()) for k, v in terms.items()}
        last = {"step": step + 1, "lr": optimizer.param_groups[0]["lr"], "loss": sum(values.values()), **values}
        log.step(
            step + 1,
            {**{k: v for k, v in last.items() if k != "step"}, "iterations_per_s": rate},
            loss=last["loss"],
            it_s=rate,
        )
        return last

    def save(step: int, last: dict) -> None:
        if process.is_main:
            save_checkpoint(out, model, optimizer, step, config.stop, config, num_classes, last)

    batches = batches_from(step, dataset, config.batch_size, per_epoch, config.workers, config.seed, process)
    try:
        step, last = run_training(
            out, step, config.stop, batches, take_step, save, lambda s: s % config.checkpoint_every == 0
        )
    finally:
        log.close()
        end_process(process)
    return last or read_progress(out).get("last", {"step": step})


def load_stage1_model(checkpoint: Path) -> tuple[ToCoNet, Stage1Config, int, int]:
    """The network of a stage-1 checkpoint (on the CPU), its config, class count and step."""
    state = load_checkpoint(checkpoint)
    config = make_stage1_config(None, None, **state["config"])
    model = toco_vit(config.backbone, state["num_classes"], None, img_size=config.crop_size, segs_head=config.segs_head)
    try:
        model.load_state_dict(state["model"])
    except RuntimeError:
        raise WeightsError(f"{checkpoint}: weights do not fit a {config.backbone} stage-1 model") from None
    return model, config, state["num_classes"], state["step"]

"""Stage-2 training loop: DeepLabV3+ with LoRM and DPM on scribbles + pseudo-labels."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm.auto import tqdm

from scribblesim.result import UNLABELLED as IGNORE

from .data import Augment, ScribbleDataset
from .lorm import LoRM
from .losses import partial_cross_entropy, weighted_entropy
from .model import deeplabv3plus
from .presets import Stage2Config
from .sampler import EpochSampler
from .schedule import lr_at, warmup_steps_for

CHECKPOINT = "last.pt"


def pick_device(name: str) -> torch.device:
    """``auto`` picks CUDA when present."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    return torch.device(name)


def num_classes_of(data: Path) -> int:
    """Class count from the build's ``meta.json``."""
    meta = Path(data) / "meta.json"
    try:
        return len(json.loads(meta.read_text())["classes"])
    except (OSError, ValueError, KeyError) as error:
        raise ValueError(f"{meta}: cannot read the class list ({error}); pass --num-classes") from None


def stage2_losses(outputs: dict, batch: dict, config: Stage2Config, lorm: LoRM | None) -> dict[str, torch.Tensor]:
    """The enabled loss terms, each already weighted (Eq. 5-8, 14, 16, 18, 19)."""
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
        foreground = F.interpolate(foreground, size=features.shape[-2:], mode="nearest")[:, 0]
        terms["lorm"] = config.lambda_lorm * lorm(features, foreground)
    return terms


class Stage2Model(torch.nn.Module):
    """The segmentor and, when enabled, LoRM (which has parameters of its own)."""

    def __init__(self, config: Stage2Config, num_classes: int, pretrained: Path | None) -> None:
        torch.nn.Module.__init__(self)
        self.segmentor = deeplabv3plus(config.backbone, num_classes, pretrained)
        channels = self.segmentor.aspp.convs[0][0].in_channels
        self.lorm = LoRM(channels) if "lorm" in config.losses else None

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.segmentor(images)


def _save_atomic(state: dict, path: Path) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    torch.save(state, temp)
    os.replace(temp, path)


def train_stage2(
    data: Path, scribbles: str, pseudo: Path | None, out: Path, config: Stage2Config, *,
    split: str = "train", num_classes: int | None = None, pretrained: Path | None = None, progress: bool = True,
) -> dict:
    """Train (or resume) a stage-2 run in ``out``; return the last step's numbers.

    The run resumes from ``out/last.pt`` when it exists: same step, same learning rate,
    same data order.
    """
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = pick_device(config.device)
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
    torch.manual_seed(config.seed + rank)
    num_classes = num_classes or num_classes_of(data)
    dataset = ScribbleDataset(data, split, scribbles, pseudo, Augment(config.crop_size, config.scale_min, config.scale_max),
                              config.lambda_s, config.lambda_c, config.seed)
    steps_per_epoch = len(dataset) // (config.batch_size * world)
    if steps_per_epoch == 0:
        raise ValueError(f"{split}: {len(dataset)} images are fewer than one batch of {config.batch_size} x {world} ranks")
    total_steps = config.epochs * steps_per_epoch
    stop = min(total_steps, config.max_steps or total_steps)
    warmup = warmup_steps_for(total_steps, config.epochs, config.warmup_epochs)

    model = Stage2Model(config, num_classes, pretrained).to(device)
    if config.channels_last and device.type == "cuda":
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    step = 0
    if (out / CHECKPOINT).is_file():
        state = torch.load(out / CHECKPOINT, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        step = state["step"]
        torch.set_rng_state(state["torch_rng"])
    elif rank == 0:
        (out / "config.json").write_text(json.dumps({**config.to_dict(), "data": str(data), "scribbles": scribbles,
                                                     "pseudo": str(pseudo), "num_classes": num_classes}, indent=1))
    forward = torch.compile(model) if config.compile else model
    if world > 1:
        forward = torch.nn.parallel.DistributedDataParallel(forward, device_ids=[device.index] if device.type == "cuda" else None)
    sampler = EpochSampler(len(dataset), config.seed, rank, world)
    writer = None
    if rank == 0:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(out / "tensorboard")
    use_bf16 = config.bf16 and device.type == "cuda"
    bar = tqdm(total=stop, initial=step, unit="step", disable=not progress or rank != 0, desc="stage2")
    last: dict = {"step": step}

    def save() -> None:
        if rank == 0:
            _save_atomic({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": step,
                          "torch_rng": torch.get_rng_state(), "config": config.to_dict(), "num_classes": num_classes}, out / CHECKPOINT)

    model.train()
    while step < stop:
        epoch, offset = divmod(step, steps_per_epoch)
        dataset.epoch = epoch
        sampler.set_position(epoch, offset * config.batch_size)
        # Its own generator: a DataLoader iterator otherwise draws from the global RNG, which
        # would shift the dropout stream of a resumed run.
        loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, num_workers=config.workers,
                            drop_last=True, pin_memory=device.type == "cuda", generator=torch.Generator().manual_seed(epoch))
        for batch in loader:
            started = time.perf_counter()
            lr = lr_at(step, config.lr, total_steps, warmup)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            images = batch["image"]
            if config.channels_last and device.type == "cuda":
                images = images.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16):
                outputs = forward(images)
                terms = stage2_losses(outputs, batch, config, model.lorm)
            loss = sum(terms.values())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            rate = images.shape[0] * world / (time.perf_counter() - started)
            last = {"step": step, "lr": lr, "loss": float(loss.detach()), **{k: float(v.detach()) for k, v in terms.items()}}
            if writer is not None:
                for key, value in last.items():
                    if key != "step":
                        writer.add_scalar(f"train/{key}", value, step)
                writer.add_scalar("train/images_per_s", rate, step)
            bar.set_postfix(loss=f"{last['loss']:.3f}", img_s=f"{rate:.1f}")
            bar.update(1)
            if step % config.checkpoint_every == 0 or step % steps_per_epoch == 0 or step >= stop:
                save()
            if step >= stop:
                break
    save()
    bar.close()
    if writer is not None:
        writer.close()
    if world > 1:
        dist.destroy_process_group()
    return last

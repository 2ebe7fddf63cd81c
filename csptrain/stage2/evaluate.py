"""Stage-2 evaluation: predictions on a split, scored against ``SegmentationClassAug``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from scribblesim.sets.scribble_set import read_label_map

from ..data.layout import find_image, normalise, read_image, read_split
from ..metrics import confusion_matrix, iou_scores
from ..runtime import load_checkpoint, pick_device, write_json_atomic
from .config import make_stage2_config


@torch.no_grad()
def predict(model: torch.nn.Module, image: torch.Tensor, scales: Sequence[float] = (1.0,), flip: bool = False) -> torch.Tensor:
    """Class probabilities (K, H, W) averaged over scales and (optionally) horizontal flips."""
    height, width = image.shape[-2:]
    total = None
    for scale in scales:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        scaled = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)
        views = [scaled, scaled.flip(-1)] if flip else [scaled]
        for k, view in enumerate(views):
            logits = model(view)["out"]
            if k == 1:
                logits = logits.flip(-1)
            probs = F.interpolate(logits.float(), size=(height, width), mode="bilinear", align_corners=False).softmax(1)[0]
            total = probs if total is None else total + probs
    return total / (len(scales) * (2 if flip else 1))


def evaluate(model: torch.nn.Module, data: Path, split: str, num_classes: int, *, scales: Sequence[float] = (1.0,),
             flip: bool = False, device: torch.device | str = "cpu", save_dir: Path | None = None,
             progress: bool = True) -> dict:
    """mIoU of ``model`` on ``data``'s split against ``SegmentationClassAug``."""
    from scribblesim.sets.files import label_png_bytes, write_bytes_atomic

    model.eval()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    if save_dir is not None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
    ids = read_split(data, split)
    for name in tqdm(ids, desc=f"eval {split}", unit="img", disable=None if progress else True):
        image = normalise(read_image(find_image(data, name))).to(device)
        truth = read_label_map(Path(data) / "SegmentationClassAug" / f"{name}.png")
        prediction = predict(model, image, scales, flip).argmax(0).cpu().numpy().astype(np.uint8)
        confusion += confusion_matrix(prediction, truth, num_classes)
        if save_dir is not None:
            write_bytes_atomic(Path(save_dir) / f"{name}.png", label_png_bytes(prediction))
    return {**iou_scores(confusion), "confusion": confusion.tolist(), "split": split, "images": len(ids)}


def load_stage2_model(checkpoint: Path) -> tuple[torch.nn.Module, int, int]:
    """The segmentor of a stage-2 checkpoint (on the CPU), its class count and step."""
    from .train import Stage2Model

    state = load_checkpoint(checkpoint)
    config = make_stage2_config(None, None, **state["config"])
    model = Stage2Model(config, state["num_classes"])
    model.load_state_dict(state["model"])
    return model, state["num_classes"], state["step"]


def evaluate_checkpoint(data: Path, checkpoint: Path, split: str, *, scales: Sequence[float] = (1.0,),
                        flip: bool = False, device: str = "auto", save_dir: Path | None = None,
                        progress: bool = True) -> dict:
    """Evaluate a stage-2 checkpoint; write ``eval.json`` next to it (atomically) and return it."""
    model, num_classes, step = load_stage2_model(checkpoint)
    target = pick_device(device)
    scores = evaluate(model.to(target), data, split, num_classes, scales=scales, flip=flip, device=target,
                      save_dir=save_dir, progress=progress)
    scores.update(checkpoint=str(checkpoint), checkpoint_step=step, scales=list(scales), flip=flip)
    write_json_atomic(Path(checkpoint).parent / "eval.json", scores)
    return scores

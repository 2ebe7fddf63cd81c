"""Evaluation: mIoU from an int64 confusion matrix over pixels whose ground truth is not 255."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from scribblesim.result import UNLABELLED as IGNORE
from scribblesim.scribble_set import read_label_map

from .data import find_image, normalise, read_image, read_split


def confusion_matrix(prediction: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = ground truth, columns = prediction; GT 255 is skipped."""
    valid = truth != IGNORE
    if np.any(truth[valid] >= num_classes):
        raise ValueError(f"ground truth holds class {int(truth[valid].max())} >= num_classes {num_classes}")
    index = num_classes * truth[valid].astype(np.int64) + prediction[valid].astype(np.int64)
    return np.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def iou_scores(confusion: np.ndarray) -> dict:
    """Per-class IoU and the two means.

    ``miou`` averages over all classes that occur in the ground truth or the prediction
    (a class with an empty union has no IoU); ``miou_present`` only over classes present
    in the ground truth.
    """
    confusion = confusion.astype(np.float64)
    true_positive = np.diag(confusion)
    union = confusion.sum(0) + confusion.sum(1) - true_positive
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, true_positive / union, np.nan)
    present = confusion.sum(1) > 0
    return {
        "iou": iou.tolist(),
        "miou": float(np.nanmean(iou)) if np.any(union > 0) else float("nan"),
        "miou_present": float(np.mean(iou[present])) if present.any() else float("nan"),
        "pixel_accuracy": float(true_positive.sum() / confusion.sum()) if confusion.sum() else float("nan"),
    }


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
             flip: bool = False, device: torch.device = torch.device("cpu"), save_dir: Path | None = None,
             progress: bool = True) -> dict:
    """mIoU of ``model`` on ``data``'s split against ``SegmentationClassAug``."""
    from scribblesim.io import label_png_bytes, write_bytes_atomic

    model.eval()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    if save_dir is not None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
    for name in tqdm(read_split(data, split), desc=f"eval {split}", unit="img", disable=not progress):
        image = normalise(read_image(find_image(data, name))).to(device)
        truth = read_label_map(Path(data) / "SegmentationClassAug" / f"{name}.png")
        prediction = predict(model, image, scales, flip).argmax(0).cpu().numpy().astype(np.uint8)
        confusion += confusion_matrix(prediction, truth, num_classes)
        if save_dir is not None:
            write_bytes_atomic(Path(save_dir) / f"{name}.png", label_png_bytes(prediction))
    return {**iou_scores(confusion), "confusion": confusion.tolist(), "split": split, "images": len(read_split(data, split))}

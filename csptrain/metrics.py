"""mIoU from an int64 confusion matrix over pixels whose ground truth is not 255."""

from __future__ import annotations

import numpy as np

from scribblesim.engine.result import UNLABELLED as IGNORE

from .errors import DataError


def confusion_matrix(prediction: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = ground truth, columns = prediction; GT 255 is skipped."""
    valid = truth != IGNORE
    if np.any(truth[valid] >= num_classes):
        raise DataError(f"ground truth holds class {int(truth[valid].max())} >= num_classes {num_classes}")
    index = num_classes * truth[valid].astype(np.int64) + prediction[valid].astype(np.int64)
    return np.bincount(index, minlength=num_classes**2).reshape(num_classes, num_classes)


def iou_scores(confusion: np.ndarray) -> dict:
    """Per-class IoU and the three means.

    ``miou`` averages over all classes that occur in the ground truth or the prediction
    (a class with an empty union has no IoU); ``miou_present`` only over classes present
    in the ground truth; ``miou_all_classes`` over every class, one with an empty union
    counting 0, as the authors' ``evaluate.py`` (on a split where every class occurs, all
    three agree).
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
        "miou_all_classes": float(np.nan_to_num(iou, nan=0.0).mean()) if len(iou) else float("nan"),
        "pixel_accuracy": float(true_positive.sum() / confusion.sum()) if confusion.sum() else float("nan"),
    }


def dice_scores(confusion: np.ndarray) -> list[float]:
    """Per-class Dice, 2 TP / (|truth| + |prediction|); NaN for a class in neither."""
    confusion = confusion.astype(np.float64)
    sizes = confusion.sum(0) + confusion.sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(sizes > 0, 2 * np.diag(confusion) / sizes, np.nan).tolist()

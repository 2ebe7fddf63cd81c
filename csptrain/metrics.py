"""mIoU (and Dice, per 3D volume) from int64 confusion matrices over pixels whose ground truth is not ignored."""

from __future__ import annotations

import warnings

import numpy as np

from .data.labels import IGNORE
from .errors import DataError


def confusion_matrix(prediction: np.ndarray, truth: np.ndarray, num_classes: int) -> np.ndarray:
    """(K, K) int64 counts, rows = ground truth, columns = prediction; GT :data:`~csptrain.data.labels.IGNORE` is skipped."""
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


def volume_dice(confusions: np.ndarray) -> dict[str, float | list[float]]:
    """The medical field's Dice: each structure's Dice per volume, averaged over the volumes.

    Parameters
    ----------
    confusions
        (V, K, K) confusion matrices, one per 3D volume (its slices summed).

    Returns
    -------
    dict
        ``dice_per_class``: for each class but background, its mean Dice over the volumes
        where it is in the truth or the prediction (NaN where in none); ``dice``: their mean.
    """
    per_volume = np.array([dice_scores(c) for c in confusions], dtype=np.float64).reshape(len(confusions), -1)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a class in no volume: NaN, said so above
        per_class = np.nanmean(per_volume[:, 1:], axis=0) if len(per_volume) else np.full(0, np.nan)
    return {
        "dice": float(np.nanmean(per_class)) if np.isfinite(per_class).any() else float("nan"),
        "dice_per_class": per_class.tolist(),
    }

"""Scores of a build's predictions by 3D volume (the medical field's Dice) and the background-only floor."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from csptrain.data.labels import read_labels
from csptrain.data.layout import read_split
from csptrain.metrics import confusion_matrix
from csptrain.metrics import volume_dice as metrics_volume_dice
from scribblesim.datasets.acdc import volume_of as slice_volume
from scribblesim.sets.layout import GROUND_TRUTH_DIR


def volume_of(name: str) -> str:
    """The 3D volume of a slice ``patientNNN_frameFF_zZZ`` (scribblesim's naming owner decides)."""
    volume = slice_volume(name)
    if volume is None:
        raise ValueError(f"{name!r} is no slice of a volume")
    return volume


def volume_dice(data: Path, split: str, predictions: Path, num_classes: int) -> dict[str, float | list[float]]:
    """Each structure's 3D Dice averaged over the volumes, and the mean over the structures.

    Parameters
    ----------
    data
        A build whose ground truth is compared.
    split
        The split of ``data`` scored.
    predictions
        A folder of label PNGs named as the split's slices.
    num_classes
        Classes of the build, background included.

    Returns
    -------
    dict
        :func:`csptrain.metrics.volume_dice` of the predictions' files: ``dice`` and
        ``dice_per_class`` (one per structure, background left out).
    """
    confusions: dict[str, np.ndarray] = defaultdict(lambda: np.zeros((num_classes, num_classes), np.int64))
    for name in read_split(data, split):
        truth = read_labels(Path(data) / GROUND_TRUTH_DIR / f"{name}.png")
        prediction = read_labels(predictions / f"{name}.png")
        confusions[volume_of(name)] += confusion_matrix(prediction, truth, num_classes)
    return metrics_volume_dice(np.stack(list(confusions.values())))


def background_only(data: Path, split: str, num_classes: int) -> float:
    """The mIoU of predicting background everywhere (the floor learning must clear).

    Parameters
    ----------
    data
        A build.
    split
        The split of ``data`` scored.
    num_classes
        Classes of the build, background included.

    Returns
    -------
    float
        The mIoU over ``num_classes`` classes.
    """
    truth_sizes = np.zeros(num_classes, np.int64)
    for name in read_split(data, split):
        truth = read_labels(Path(data) / GROUND_TRUTH_DIR / f"{name}.png")
        truth_sizes += np.bincount(truth[truth < num_classes], minlength=num_classes)
    return float(truth_sizes[0] / truth_sizes.sum() / num_classes)

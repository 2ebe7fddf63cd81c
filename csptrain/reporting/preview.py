"""Pictures of what a run predicts: a few val images, each beside its ground truth and the model's prediction."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scribblesim.analysis.preview import panel_strip, png_bytes
from scribblesim.sets.files import write_bytes_atomic
from scribblesim.sets.layout import Layout
from scribblesim.sets.palette import colorize

from ..data.labels import IGNORE, read_labels
from ..data.layout import find_image, read_image
from ..inference.predictor import SegmentationModel
from ..metrics import confusion_matrix, iou_scores
from ..stage2.protocol import EvalProtocol


def prediction_strip(
    image: np.ndarray, truth: np.ndarray, prediction: np.ndarray, name: str, class_names: Sequence[str]
) -> np.ndarray:
    """(H, W', 3) RGB: the image, its ground truth and the prediction (with its mIoU), and a legend."""
    scores = iou_scores(confusion_matrix(prediction, truth, len(class_names)))
    shown = sorted((set(np.unique(truth).tolist()) | set(np.unique(prediction).tolist())) - {IGNORE})
    panels = [
        (image, name),
        (colorize(truth), "ground truth"),
        (colorize(prediction), f"prediction (mIoU {100 * scores['miou']:.1f})"),
    ]
    return panel_strip(panels, shown, class_names)


def write_run_previews(
    model: SegmentationModel,
    data: Path,
    names: Sequence[str],
    folder: Path,
    protocol: EvalProtocol,
    class_names: Sequence[str],
) -> list[Path]:
    """Write ``folder/{name}.png`` (see :func:`prediction_strip`) for each of ``names``; return the paths."""
    Path(folder).mkdir(parents=True, exist_ok=True)
    written = []
    for name in names:
        image = read_image(find_image(data, name))
        truth = read_labels(Layout(data).ground_truth(name))
        strip = prediction_strip(image, truth, model.predict(image, protocol), name, class_names)
        path = Path(folder) / f"{name}.png"
        write_bytes_atomic(path, png_bytes(strip))
        written.append(path)
    return written

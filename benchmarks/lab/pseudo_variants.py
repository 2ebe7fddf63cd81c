"""What a stage-1 checkpoint's pseudo-labels score made four ways, and the best its token grid allows.

The four ways are :data:`VARIANTS`: the classifier's CAMs or the scribble head (see
:data:`~csptrain.catalog.PSEUDO_SOURCES`), each with and without PAR, all through
:func:`~csptrain.stage1.pseudo.pseudo_labels` and scored as Table VII scores pseudo-labels
(uncertain pixels left out). The ceiling is the mIoU of the dense ground truth averaged onto
the ViT's token grid (at the pseudo-labels' first CAM scale) and bilinearly upsampled back:
no prediction made on that grid can do better.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from csptrain.data.labels import IGNORE, read_labels
from csptrain.data.layout import find_image, normalise, read_image
from csptrain.data.stage1 import image_labels
from csptrain.metrics import confusion_matrix, iou_scores
from csptrain.models.toco import ToCoNet
from csptrain.runtime.checkpoints import Trained
from csptrain.stage1.config import Stage1Config
from csptrain.stage1.par import PAR
from csptrain.stage1.pseudo import pseudo_labels
from scribblesim.sets.layout import Layout

#: (name, pseudo-label source, PAR) of each way of making the labels.
VARIANTS: tuple[tuple[str, str, bool], ...] = (
    ("cam", "cam", False),
    ("cam+par", "cam", True),
    ("head", "scribble-head", False),
    ("head+par", "scribble-head", True),
)


def score_variants(
    data: Path, trained: Trained[ToCoNet, Stage1Config], scribbles: str, names: Sequence[str], device: torch.device
) -> dict[str, dict[str, Any]]:
    """Per variant of :data:`VARIANTS`: ``miou``, ``iou`` and ``uncertain_share`` of ``trained``'s labels of ``names``."""
    config, classes = trained.config, trained.num_classes
    model = trained.model.to(device).eval()
    par = PAR(config.par_dilations, config.par_iterations).to(device)
    confusion = {name: np.zeros((classes, classes), dtype=np.int64) for name, _, _ in VARIANTS}
    uncertain = dict.fromkeys(confusion, 0)
    labelled = 0
    for name in names:
        image = normalise(read_image(find_image(data, name))).to(device)
        label = torch.from_numpy(image_labels(read_labels(Path(data) / scribbles / f"{name}.png"), classes))
        truth = read_labels(Layout(data).ground_truth(name))
        known = truth != IGNORE
        labelled += int(known.sum())
        for variant, source, use_par in VARIANTS:
            (made,) = pseudo_labels(model, par if use_par else None, [image], label[None].to(device), config, source)
            made_np = made.cpu().numpy()
            certain = made_np != IGNORE
            confusion[variant] += confusion_matrix(made_np[certain], truth[certain], classes)
            uncertain[variant] += int((known & ~certain).sum())
    return {
        variant: {
            **{k: v for k, v in iou_scores(confusion[variant]).items() if k in ("miou", "iou")},
            "uncertain_share": uncertain[variant] / max(1, labelled),
        }
        for variant in confusion
    }


def grid_ceiling(data: Path, names: Sequence[str], patch: int, scale: float, num_classes: int) -> dict[str, Any]:
    """``miou`` and ``iou`` of the ground truth averaged onto a ``patch``-pixel token grid at ``scale``, then upsampled."""
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    for name in names:
        truth = read_labels(Layout(data).ground_truth(name))
        height, width = truth.shape
        ids = torch.from_numpy(np.where(truth == IGNORE, 0, truth).astype(np.int64))
        one_hot = F.one_hot(ids, num_classes).permute(2, 0, 1)[None].float()
        grid = (max(1, round(height * scale / patch)), max(1, round(width * scale / patch)))
        coarse = F.adaptive_avg_pool2d(one_hot, grid)
        back = F.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
        confusion += confusion_matrix(back[0].argmax(0).numpy(), truth, num_classes)
    scores = iou_scores(confusion)
    return {"miou": scores["miou"], "iou": scores["iou"], "patch": patch, "scale": scale}

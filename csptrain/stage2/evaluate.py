"""Stage-2 evaluation: predictions on a split, scored against ``SegmentationClassAug``.

The default protocol is the authors' (see :mod:`csptrain.stage2.protocol`); the
single-scale one runs each image once, whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F
from tqdm.auto import tqdm

from scribblesim.sets.layout import Layout
from scribblesim.sets.scribble_set import read_label_map

from ..data.layout import find_image, normalise, read_image, read_split
from ..metrics import confusion_matrix, iou_scores
from ..runs import TrainingRun
from ..runtime.process import Process, barrier, joined, sum_over_ranks
from .protocol import EvalProtocol, protocol_for
from .train import load_stage2_model

#: Windows per forward pass in the sliding-window protocol (bounded memory, some batching).
WINDOW_BATCH = 4


def _probabilities(model: torch.nn.Module, images: torch.Tensor, flip: bool) -> torch.Tensor:
    """Softmax of the model's logits for a batch, averaged with its horizontal mirror when ``flip``."""
    probs = model(images)["out"].float().softmax(1)
    if flip:
        probs = (probs + model(images.flip(-1))["out"].float().softmax(1).flip(-1)) / 2
    return probs


@torch.no_grad()
def predict(
    model: torch.nn.Module, image: torch.Tensor, scales: Sequence[float] = (1.0,), flip: bool = False
) -> torch.Tensor:
    """Class probabilities (K, H, W) of the whole image, averaged over scales (and flips)."""
    height, width = image.shape[-2:]
    total = torch.zeros((), device=image.device)
    for scale in scales:
        size = (max(1, round(height * scale)), max(1, round(width * scale)))
        scaled = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)
        probs = _probabilities(model, scaled, flip)
        total = total + F.interpolate(probs, size=(height, width), mode="bilinear", align_corners=False)[0]
    return total / len(scales)


def window_starts(length: int, window: int, stride: int) -> list[int]:
    """Window starts along an axis of ``length`` >= ``window``: every ``stride``, the last flush with the end."""
    count = math.ceil((length - window) / stride) + 1
    return [min(k * stride, length - window) for k in range(count)]


@torch.no_grad()
def sliding_window(
    model: torch.nn.Module, image: torch.Tensor, window: int, stride: int, flip: bool = False, batch: int = WINDOW_BATCH
) -> torch.Tensor:
    """Class probabilities (K, H, W) of a normalised image (3, H, W) from ``window``-pixel windows.

    An image smaller than the window is padded around (half on each side) with zeros, the
    ImageNet mean once normalised, as the authors pad with the mean. Overlapping windows'
    probabilities are averaged; the padding is cut off again.
    """
    height, width = image.shape[-2:]
    rows, cols = max(0, window - height), max(0, window - width)
    top, left = rows // 2, cols // 2
    padded = F.pad(image, (left, cols - left, top, rows - top))
    boxes = [
        (y, x)
        for y in window_starts(padded.shape[-2], window, stride)
        for x in window_starts(padded.shape[-1], window, stride)
    ]
    total: torch.Tensor | None = None
    count = torch.zeros(padded.shape[-2:], device=image.device)
    for first in range(0, len(boxes), batch):
        chunk = boxes[first : first + batch]
        probs = _probabilities(model, torch.stack([padded[:, y : y + window, x : x + window] for y, x in chunk]), flip)
        if total is None:
            total = torch.zeros((probs.shape[1], *padded.shape[-2:]), device=image.device)
        for (y, x), prob in zip(chunk, probs):
            total[:, y : y + window, x : x + window] += prob
            count[y : y + window, x : x + window] += 1
    assert total is not None  # there is always at least one window
    return (total / count)[:, top : top + height, left : left + width]


def long_side_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(height, width) with the longer side ``long_side`` and the aspect ratio kept (rounded as the authors)."""
    if height > width:
        return long_side, max(1, round(long_side / height * width))
    return max(1, round(long_side / width * height)), long_side


@torch.no_grad()
def predict_authors(model: torch.nn.Module, image: torch.Tensor, protocol: EvalProtocol) -> torch.Tensor:
    """Class probabilities (K, H, W) under the authors' protocol (their ``evaluate.py``).

    For each scale the image is resized (bilinear) to a long side of ``scale * base_size``,
    predicted by sliding windows, and its probabilities resized back (bilinear) to the
    image; the scales' probabilities are averaged.
    """
    assert protocol.base_size is not None and protocol.window is not None and protocol.stride is not None
    height, width = image.shape[-2:]
    total = torch.zeros((), device=image.device)
    for scale in protocol.scales:
        size = long_side_size(height, width, round(scale * protocol.base_size))
        scaled = F.interpolate(image[None], size=size, mode="bilinear", align_corners=False)[0]
        probs = sliding_window(model, scaled, protocol.window, protocol.stride, protocol.flip)
        total = total + F.interpolate(probs[None], size=(height, width), mode="bilinear", align_corners=False)[0]
    return total / len(protocol.scales)


def predict_with(model: torch.nn.Module, image: torch.Tensor, protocol: EvalProtocol) -> torch.Tensor:
    """Class probabilities (K, H, W) of a normalised image (3, H, W) under ``protocol``."""
    if protocol.name == "authors":
        return predict_authors(model, image, protocol)
    return predict(model, image, protocol.scales, protocol.flip)


def evaluate(
    model: torch.nn.Module,
    data: Path,
    split: str,
    num_classes: int,
    protocol: EvalProtocol,
    *,
    device: torch.device | str = "cpu",
    save_dir: Path | None = None,
    progress: bool = True,
    process: Process | None = None,
) -> dict:
    """mIoU of ``model`` on ``data``'s split against ``SegmentationClassAug`` under ``protocol``.

    With ``process`` in a DDP job, each rank predicts its share of the images and every
    rank gets the scores of them all.
    """
    from scribblesim.sets.files import label_png_bytes, write_bytes_atomic

    process = process or Process(torch.device(device))
    model.eval()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    if save_dir is not None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
    ids = read_split(data, split)
    mine = ids[process.rank :: process.world]
    for name in tqdm(mine, desc=f"eval {split}", unit="img", disable=None if progress and process.is_main else True):
        image = normalise(read_image(find_image(data, name))).to(device)
        truth = read_label_map(Layout(data).ground_truth(name))
        prediction = predict_with(model, image, protocol).argmax(0).cpu().numpy().astype(np.uint8)
        confusion += confusion_matrix(prediction, truth, num_classes)
        if save_dir is not None:
            write_bytes_atomic(Path(save_dir) / f"{name}.png", label_png_bytes(prediction))
    confusion = sum_over_ranks(confusion, process)
    return {
        **iou_scores(confusion),
        "confusion": confusion.tolist(),
        "split": split,
        "images": len(ids),
        "protocol": protocol.to_dict(),
    }


def evaluate_checkpoint(
    data: Path,
    checkpoint: Path,
    split: str,
    *,
    protocol: str = "authors",
    scales: Sequence[float] | None = None,
    flip: bool = False,
    base_size: int | None = None,
    window: int | None = None,
    device: str = "auto",
    save_dir: Path | None = None,
    progress: bool = True,
) -> dict:
    """Evaluate a stage-2 checkpoint; write the evaluation record next to it (atomically) and return it.

    ``scales`` (when given) replaces the protocol's scales; the base size and window
    default to the run's (see :func:`~csptrain.stage2.protocol.protocol_for`).
    """
    trained = load_stage2_model(checkpoint)
    chosen = protocol_for(trained.config, protocol, scales=scales, flip=flip, base_size=base_size, window=window)
    run = TrainingRun(Path(checkpoint).parent)
    with joined(device) as process:
        model = trained.model.to(process.device)
        scores = evaluate(
            model,
            data,
            split,
            trained.num_classes,
            chosen,
            device=process.device,
            save_dir=save_dir,
            progress=progress,
            process=process,
        )
        if process.is_main:
            run.write_evaluation(scores, checkpoint, trained.step)
        barrier(process)
    return run.evaluation()

"""Stage-2 evaluation: predictions on a split, scored against ``SegmentationClassAug``.

The default protocol is the authors' (see :mod:`csptrain.stage2.protocol`); the
single-scale one runs each image once, whole.

On CUDA the model runs under bf16 autocast on channels_last batches; its logits are cast
to fp32 before the softmax, and every sum of probabilities is fp32. On the CPU all of it
is fp32. Under the authors' protocol the windows of all scales of an image (and their
mirrors) go through the model together, ``window_batch`` at a time. DataLoader workers
read and normalise the images while the model runs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset
from tqdm.auto import tqdm

from scribblesim.datasets.acdc import volume_of
from scribblesim.sets.layout import Layout

from ..data.labels import class_map_dtype, labels_png, read_labels
from ..data.layout import find_image, normalise, read_image, read_split
from ..data.loader import without_worker_traceback
from ..metrics import confusion_matrix, iou_scores, volume_dice
from ..runs import TrainingRun
from ..runtime.process import Process, barrier, sum_over_ranks
from ..runtime.settings import cpus_per_rank
from .protocol import AUTHORS_PROTOCOL, EvalProtocol, ProtocolChoice
from .train import load_stage2_model

#: Windows per forward pass under the authors' protocol, by device type. A GPU wants larger
#: batches to be busy; the CPU gains nothing from them but memory.
WINDOW_BATCH = {"cuda": 16, "cpu": 4}

#: Most image-reading workers per rank: reading an image takes far less than predicting it.
MAX_WORKERS = 4


def window_batch_for(device: torch.device) -> int:
    """The default number of windows per forward pass on ``device``."""
    return WINDOW_BATCH.get(device.type, WINDOW_BATCH["cpu"])


def default_workers(device: torch.device) -> int:
    """Image-reading workers per rank: none on the CPU, else this rank's share of the CPUs less its own (at most 4).

    On the CPU the forward passes want every core, and reading is a small part of an image's time.
    """
    if device.type != "cuda":
        return 0
    return max(1, min(MAX_WORKERS, cpus_per_rank() - 1))


def _softmax(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """fp32 class probabilities of a batch (B, 3, H, W); bf16 autocast and channels_last on CUDA only.

    The CPU stays in fp32 so that its results are exact.
    """
    cuda = images.is_cuda
    if cuda:
        images = images.contiguous(memory_format=torch.channels_last)
    with torch.autocast(images.device.type, dtype=torch.bfloat16, enabled=cuda):
        logits = model(images)["out"]
    return logits.float().softmax(1)


def _probabilities(model: torch.nn.Module, images: torch.Tensor, flip: bool) -> torch.Tensor:
    """Class probabilities of a batch, averaged with its horizontal mirror when ``flip`` (one forward pass)."""
    if not flip:
        return _softmax(model, images)
    views = _softmax(model, torch.cat([images, images.flip(-1)]))
    plain, mirrored = views.chunk(2)
    return (plain + mirrored.flip(-1)) / 2


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


def long_side_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(height, width) with the longer side ``long_side`` and the aspect ratio kept (rounded as the authors)."""
    if height > width:
        return long_side, max(1, round(long_side / height * width))
    return max(1, round(long_side / width * height)), long_side


@dataclass(frozen=True)
class ScaleGrid:
    """Where one scale's windows lie, in the resized image padded to at least one window.

    An image smaller than the window is padded around (half on each side) with zeros, the
    ImageNet mean once normalised, as the authors pad with the mean.
    """

    size: tuple[int, int]
    pad: tuple[int, int, int, int]
    starts: tuple[tuple[int, int], ...]

    @classmethod
    def of(cls, height: int, width: int, long_side: int, window: int, stride: int) -> ScaleGrid:
        """The grid of an image of ``height`` x ``width`` resized to ``long_side``."""
        size = long_side_size(height, width, long_side)
        rows, cols = max(0, window - size[0]), max(0, window - size[1])
        pad = (cols // 2, cols - cols // 2, rows // 2, rows - rows // 2)  # left, right, top, bottom, as F.pad
        padded = (size[0] + rows, size[1] + cols)
        starts = tuple(
            (y, x) for y in window_starts(padded[0], window, stride) for x in window_starts(padded[1], window, stride)
        )
        return cls(size, pad, starts)


class ScaleSum:
    """One scale's padded image and the running fp32 sums of its windows' probabilities."""

    def __init__(self, image: torch.Tensor, grid: ScaleGrid, window: int) -> None:
        scaled = F.interpolate(image[None], size=grid.size, mode="bilinear", align_corners=False)[0]
        self.padded = F.pad(scaled, grid.pad)
        self.grid, self.window = grid, window
        self.total: torch.Tensor | None = None  # allocated when the class count is known
        self.count = torch.zeros(self.padded.shape[-2:], device=image.device)

    def crop(self, y: int, x: int, mirrored: bool) -> torch.Tensor:
        """The window at (``y``, ``x``), horizontally flipped when ``mirrored``."""
        crop = self.padded[:, y : y + self.window, x : x + self.window]
        return crop.flip(-1) if mirrored else crop

    def add(self, y: int, x: int, probs: torch.Tensor) -> None:
        """Add a window's probabilities (K, window, window), already flipped back if it was mirrored."""
        if self.total is None:
            self.total = torch.zeros((probs.shape[0], *self.padded.shape[-2:]), device=probs.device)
        self.total[:, y : y + self.window, x : x + self.window] += probs
        self.count[y : y + self.window, x : x + self.window] += 1

    def probabilities(self, height: int, width: int) -> torch.Tensor:
        """The windows' mean where they overlap, padding cut, resized (bilinear) to ``height`` x ``width``."""
        assert self.total is not None  # there is always at least one window
        left, _, top, _ = self.grid.pad
        rows, cols = self.grid.size
        mean = (self.total / self.count)[:, top : top + rows, left : left + cols]
        return F.interpolate(mean[None], size=(height, width), mode="bilinear", align_corners=False)[0]


@torch.no_grad()
def predict_authors(
    model: torch.nn.Module, image: torch.Tensor, protocol: EvalProtocol, window_batch: int | None = None
) -> torch.Tensor:
    """Class probabilities (K, H, W) under the authors' protocol (their ``evaluate.py``).

    For each scale the image is resized (bilinear) to a long side of ``scale * base_size``
    and cut into sliding windows; the windows' probabilities are averaged where they
    overlap (a mirrored window counts as one more window at its place), resized back
    (bilinear) to the image, and averaged over the scales.

    Parameters
    ----------
    model
        Returns ``{"out": logits}`` for a batch of windows.
    image
        A normalised image (3, H, W) on the model's device.
    protocol
        The authors' protocol (``base_size``, ``window`` and ``stride`` set).
    window_batch
        Windows per forward pass, of any scales; by default :data:`WINDOW_BATCH` of the device.

    Returns
    -------
    torch.Tensor
        fp32 probabilities (K, H, W).
    """
    assert protocol.base_size is not None and protocol.window is not None and protocol.stride is not None
    batch = window_batch or window_batch_for(image.device)
    height, width = image.shape[-2:]
    grids = [
        ScaleGrid.of(height, width, round(scale * protocol.base_size), protocol.window, protocol.stride)
        for scale in protocol.scales
    ]
    views = (False, True) if protocol.flip else (False,)
    jobs = [(k, y, x, mirrored) for k, grid in enumerate(grids) for y, x in grid.starts for mirrored in views]
    remaining = Counter(k for k, *_ in jobs)
    # Only the scales whose windows are in flight hold an image and sums: memory stays bounded.
    sums: dict[int, ScaleSum] = {}
    total = torch.zeros((), device=image.device)
    for first in range(0, len(jobs), batch):
        chunk = jobs[first : first + batch]
        for k, *_ in chunk:
            if k not in sums:
                sums[k] = ScaleSum(image, grids[k], protocol.window)
        probs = _softmax(model, torch.stack([sums[k].crop(y, x, mirrored) for k, y, x, mirrored in chunk]))
        for (k, y, x, mirrored), prob in zip(chunk, probs):
            sums[k].add(y, x, prob.flip(-1) if mirrored else prob)
            remaining[k] -= 1
            if not remaining[k]:  # jobs come scale by scale, so the scales are summed in order
                total = total + sums.pop(k).probabilities(height, width)
    return total / len(protocol.scales)


def predict_with(
    model: torch.nn.Module, image: torch.Tensor, protocol: EvalProtocol, window_batch: int | None = None
) -> torch.Tensor:
    """Class probabilities (K, H, W) of a normalised image (3, H, W) under ``protocol``."""
    if protocol.name == "authors":
        return predict_authors(model, image, protocol, window_batch)
    return predict(model, image, protocol.scales, protocol.flip)


class EvalImages(Dataset):
    """Images of a split, each as (name, normalised image (3, H, W), ground truth (H, W) uint8).

    Missing or unreadable files raise the same one-line data errors as the readers they use.
    """

    def __init__(self, data: Path, names: Sequence[str]) -> None:
        self.data, self.names = Path(data), list(names)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> tuple[str, torch.Tensor, np.ndarray]:
        name = self.names[index]
        image = normalise(read_image(find_image(self.data, name)))
        return name, image, read_labels(Layout(self.data).ground_truth(name))


def _unbatched(item: Any) -> Any:
    """The DataLoader's ``collate_fn`` for single items: the ground truth stays a numpy array."""
    return item


def read_images(
    data: Path, names: Sequence[str], workers: int, device: torch.device
) -> Iterator[tuple[str, torch.Tensor, np.ndarray]]:
    """(name, image on ``device``, ground truth) of ``names`` in order, read by ``workers`` processes."""
    loader = DataLoader(
        EvalImages(data, names),
        batch_size=None,  # images differ in size
        num_workers=workers,
        collate_fn=_unbatched,
        pin_memory=device.type == "cuda",
    )
    for name, image, truth in without_worker_traceback(loader):
        yield name, image.to(device, non_blocking=True), truth


def _memory_format(model: torch.nn.Module) -> torch.memory_format:
    """channels_last if the model's first 4-D parameter is stored so, else the contiguous format."""
    for parameter in model.parameters():
        if parameter.dim() == 4:
            if parameter.is_contiguous(memory_format=torch.channels_last) and not parameter.is_contiguous():
                return torch.channels_last
            break
    return torch.contiguous_format


@contextmanager
def _channels_last_on_cuda(model: torch.nn.Module, device: torch.device) -> Iterator[None]:
    """The model's weights in channels_last on CUDA for the block, then in their format before it."""
    if device.type != "cuda":
        yield
        return
    before = _memory_format(model)
    model.to(memory_format=torch.channels_last)
    try:
        yield
    finally:
        model.to(memory_format=before)


def evaluate(
    model: torch.nn.Module,
    data: Path,
    split: str,
    num_classes: int,
    protocol: EvalProtocol,
    *,
    process: Process | None = None,
    save_dir: Path | None = None,
    progress: bool = True,
    workers: int | None = None,
    window_batch: int | None = None,
) -> dict:
    """mIoU of ``model`` on ``data``'s split against ``SegmentationClassAug`` under ``protocol``.

    Parameters
    ----------
    model
        On ``process``'s device; left in eval mode (in its own memory format again).
    data, split
        The build folder and the split (or its role name) whose images are scored.
    num_classes
        Classes of the confusion matrix.
    protocol
        How predictions are made (:mod:`csptrain.stage2.protocol`).
    process
        Where the model runs (by default one process on the model's device); in a DDP job
        each rank predicts its share of the images and every rank gets the scores of them all.
    save_dir
        If given, each prediction is written there as ``{name}.png``.
    progress
        A progress bar on the main rank.
    workers
        Image-reading processes per rank (0: the main thread); by default :func:`default_workers`.
    window_batch
        Windows per forward pass under the authors' protocol; by default :func:`window_batch_for`.

    Returns
    -------
    dict
        :func:`~csptrain.metrics.iou_scores`, the confusion matrix, the split, its image
        count and the protocol's record; where the split's images are slices of volumes
        (ScribbleACDC's ``patientNNN_frameFF_zZZ``), also :func:`~csptrain.metrics.volume_dice`
        and the number of ``volumes``.
    """
    from scribblesim.sets.files import write_bytes_atomic

    process = process or Process(next(model.parameters()).device)
    device = process.device
    workers = default_workers(device) if workers is None else workers
    model.eval()
    confusion = np.zeros((num_classes, num_classes), dtype=np.int64)
    if save_dir is not None:
        Path(save_dir).mkdir(parents=True, exist_ok=True)
    ids = read_split(data, split)
    volumes = [volume_of(name) for name in ids]
    by_volume = None  # the volumes' confusions, where every image is a slice of one
    if ids and all(volumes):
        slot = {volume: k for k, volume in enumerate(dict.fromkeys(volumes))}
        by_volume = np.zeros((len(slot), num_classes, num_classes), dtype=np.int64)
    mine = ids[process.rank :: process.world]
    images = read_images(data, mine, workers, device)
    bar = tqdm(
        images,
        total=len(mine),
        desc=f"eval {split}",
        unit="img",
        disable=None if progress and process.is_main else True,
    )
    with _channels_last_on_cuda(model, device):
        for name, image, truth in bar:
            probs = predict_with(model, image, protocol, window_batch)
            prediction: np.ndarray = probs.argmax(0).cpu().numpy().astype(class_map_dtype(num_classes))
            image_confusion = confusion_matrix(prediction, truth, num_classes)
            confusion += image_confusion
            if by_volume is not None:
                by_volume[slot[volume_of(name)]] += image_confusion
            if save_dir is not None:
                write_bytes_atomic(Path(save_dir) / f"{name}.png", labels_png(prediction, num_classes))
    confusion = sum_over_ranks(confusion, process)
    dice = {} if by_volume is None else {**volume_dice(sum_over_ranks(by_volume, process)), "volumes": len(by_volume)}
    return {
        **iou_scores(confusion),
        **dice,
        "confusion": confusion.tolist(),
        "split": split,
        "images": len(ids),
        "protocol": protocol.to_dict(),
    }


def evaluate_checkpoint(
    data: Path,
    checkpoint: Path,
    split: str,
    process: Process,
    *,
    protocol: EvalProtocol | ProtocolChoice = AUTHORS_PROTOCOL,
    save_dir: Path | None = None,
    progress: bool = True,
    workers: int | None = None,
) -> dict:
    """Evaluate a stage-2 checkpoint; write the evaluation record next to it (atomically) and return it.

    ``protocol`` is used as it is, or, as a command's choice, completed with the run's
    sizes (:meth:`~csptrain.stage2.protocol.ProtocolChoice.for_run`); ``workers`` read the
    images; ``process`` runs the model (see :func:`evaluate`).
    """
    trained = load_stage2_model(checkpoint)
    chosen = protocol.for_run(trained.config) if isinstance(protocol, ProtocolChoice) else protocol
    run = TrainingRun(Path(checkpoint).parent)
    scores = evaluate(
        trained.model.to(process.device),
        data,
        split,
        trained.num_classes,
        chosen,
        process=process,
        save_dir=save_dir,
        progress=progress,
        workers=workers,
    )
    if process.is_main:
        run.write_evaluation(scores, checkpoint, trained.step)
    barrier(process)
    return run.evaluation()

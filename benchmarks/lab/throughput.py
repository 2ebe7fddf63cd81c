"""Both stages' real train steps, timed on whatever device is given, with their peak memory.

Stage-1 images are crops of the embedded COCO sample (the regulariser's lattice grows with
the colours an image holds, so noise would overstate it); stage-2 images are random, with a
scribble stripe, a pseudo-label square and distance maps from the training code. Data
loading is not timed. ``benchmarks/train_step.py`` and ``benchmarks/gpu_check.py`` print
these figures.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol, cast

import cv2
import numpy as np
import torch

import csptrain.stage1.train as stage1_train
from csptrain.data.batches import Stage1Batch, Stage2Batch
from csptrain.data.distance import pseudo_boundary_distance_map, scribble_distance_map
from csptrain.data.labels import IGNORE, LABEL_DTYPE
from csptrain.data.layout import normalise
from csptrain.errors import DataError
from csptrain.stage1.config import make_stage1_config
from csptrain.stage1.par import PAR
from csptrain.stage1.train import build_stage1
from csptrain.stage1.train import train_step as stage1_step
from csptrain.stage2.config import make_stage2_config
from csptrain.stage2.train import build_stage2
from csptrain.stage2.train import train_step as stage2_step
from scribblesim.datasets.sample import coco_sample_root


class StepSetting(Protocol):
    """What a timed step is made of (the scripts' parsed arguments or a fixed setting).

    Attributes
    ----------
    vit, crop1, batch1
        Stage 1's ViT, crop size and samples per step.
    backbone, crop2, batch2
        Stage 2's backbone, crop size and samples per step.
    classes
        Classes, background included.
    steps, warmup
        Steps timed, after that many untimed ones.
    """

    vit: str
    crop1: int
    batch1: int
    backbone: str
    crop2: int
    batch2: int
    classes: int
    steps: int
    warmup: int


def synthetic_labels(batch: int, crop: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Scribbles (a class stripe and a background line, IGNORE elsewhere) and pseudo-labels (a square of class 1).

    Parameters
    ----------
    batch, crop
        ``batch`` maps of ``crop`` x ``crop`` pixels.
    classes
        Classes, background included (the stripe's class is drawn from them).

    Returns
    -------
    tuple of numpy.ndarray
        The scribbles and the pseudo-labels, both (batch, crop, crop) uint16, as csptrain reads them.
    """
    rng = np.random.default_rng(0)
    scribble = np.full((batch, crop, crop), IGNORE, LABEL_DTYPE)
    scribble[:, crop // 2 - 2 : crop // 2 + 2, crop // 4 : 3 * crop // 4] = rng.integers(1, classes)
    scribble[:, 4:8, 4 : crop - 4] = 0
    pseudo = np.zeros((batch, crop, crop), LABEL_DTYPE)
    pseudo[:, crop // 4 : 3 * crop // 4, crop // 4 : 3 * crop // 4] = 1
    return scribble, pseudo


def synchronise(device: torch.device) -> None:
    """Wait for a CUDA device's queued work (nothing to wait for elsewhere)."""
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(step: Callable[[int], object], steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per step of ``step(k)`` over ``steps`` steps after ``warmup`` untimed ones."""
    for k in range(warmup):
        step(k)
    synchronise(device)
    start = time.perf_counter()
    for k in range(steps):
        step(warmup + k)
    synchronise(device)
    return (time.perf_counter() - start) / steps


def reset_peak(device: torch.device) -> None:
    """Start a CUDA device's peak-memory count afresh (the CPU's peak resident set cannot be reset)."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory since the last reset on CUDA; on CPU the process's peak resident set (MiB)."""
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10


class RegulariserClock:
    """Seconds spent in stage 1's dense-energy regulariser, forward and backward.

    While active, the step's ``dense_energy_loss`` is timed, and after each call its
    backward is run once more on its own, timed, so that the step's wall time can be
    corrected for that extra backward: ``regulariser_s`` is forward + backward of the very
    call inside the step, ``extra_s`` what the measurement added.
    """

    def __init__(self, device: torch.device) -> None:
        self.device, self.regulariser_s, self.extra_s = device, 0.0, 0.0

    @contextmanager
    def active(self) -> Iterator[RegulariserClock]:
        """Time the regulariser inside the ``with`` block."""
        original = stage1_train.dense_energy_loss

        def clocked(images: torch.Tensor, probabilities: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            synchronise(self.device)
            start = time.perf_counter()
            value = original(images, probabilities, *args, **kwargs)
            synchronise(self.device)
            forward = time.perf_counter() - start
            torch.autograd.grad(value, probabilities, retain_graph=True)
            synchronise(self.device)
            backward = time.perf_counter() - start - forward
            self.regulariser_s += forward + backward
            self.extra_s += backward
            return value

        stage1_train.dense_energy_loss = clocked  # type: ignore[assignment]
        try:
            yield self
        finally:
            stage1_train.dense_energy_loss = original


def centre_crop(path: Path, crop: int) -> np.ndarray:
    """The ``crop`` x ``crop`` centre of an image resized so that its shorter side is ``crop`` (uint8 RGB)."""
    read = cv2.imread(str(path))
    if read is None:
        raise DataError(f"{path}: not an image OpenCV can read")
    image = cv2.cvtColor(read, cv2.COLOR_BGR2RGB)
    scale = crop / min(image.shape[:2])
    image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    top, left = (image.shape[0] - crop) // 2, (image.shape[1] - crop) // 2
    return image[top : top + crop, left : left + crop]


def sample_images(batch: int, crop: int) -> torch.Tensor:
    """``batch`` normalised ``crop`` x ``crop`` centre crops of the embedded COCO sample's images."""
    paths = sorted((coco_sample_root() / "train2017").glob("*.jpg"))[:batch]
    crops = [normalise(centre_crop(path, crop)) for path in paths * (batch // len(paths) + 1)]
    return torch.stack(crops[:batch])


def stage1_rate(setting: StepSetting, device: torch.device, bf16: bool) -> dict[str, float]:
    """Stage 1's step (every ToCo term + L_segs, multi-scale CAM, PAR and local crops), timed.

    Parameters
    ----------
    setting
        The step's ViT, crop, batch, classes and step counts (``*1`` fields).
    device
        Where it runs.
    bf16
        Whether the step runs under bf16 autocast.

    Returns
    -------
    dict
        ``step_s`` (seconds per step, less what the clock added), ``regulariser_s`` (the
        dense-energy regulariser's seconds in it) and ``peak_memory_mb``.
    """
    config = make_stage1_config(
        "coco",
        backbone=setting.vit,
        crop_size=setting.crop1,
        batch_size=setting.batch1,
        local_crop_size=min(96, setting.crop1 // 2),
        seg_start=0.0,
        contrast_start=0.0,
    )
    model, optimizer = build_stage1(config, setting.classes, None, device)
    par = PAR(config.par_dilations, config.par_iterations).to(device)
    scribble, _ = synthetic_labels(setting.batch1, setting.crop1, setting.classes)
    image_labels = torch.zeros(setting.batch1, setting.classes - 1, device=device)
    image_labels[:, 0] = 1
    images = sample_images(setting.batch1, setting.crop1).to(device)
    batch = Stage1Batch(
        image=images.clone(),
        global_view=images.clone(),
        local_source=images.clone(),
        scribble=torch.from_numpy(scribble.astype(np.int64)).to(device),
        box=torch.tensor([[0, setting.crop1, 0, setting.crop1]] * setting.batch1, device=device),
        image_labels=image_labels,
    )
    model.train()

    def step(k: int) -> None:
        stage1_step(model, model, optimizer, [batch], config, k, par, bf16)

    for k in range(setting.warmup):
        step(k)
    reset_peak(device)
    clock = RegulariserClock(device)
    with clock.active():
        wall = timed(step, setting.steps, 0, device)
    return {
        "step_s": wall - clock.extra_s / setting.steps,
        "regulariser_s": clock.regulariser_s / setting.steps,
        "peak_memory_mb": peak_memory_mb(device),
    }


def stage2_rate(
    setting: StepSetting, device: torch.device, bf16: bool, channels_last: bool, compile_: bool
) -> tuple[float, float]:
    """Stage 2's step (all five losses) on device-resident batches, timed.

    Parameters
    ----------
    setting
        The step's backbone, crop, batch, classes and step counts (``*2`` fields).
    device
        Where it runs.
    bf16, channels_last, compile_
        bf16 autocast, channels_last memory format, ``torch.compile`` of the model.

    Returns
    -------
    tuple of float
        Images per second and the step's peak memory (MiB).
    """
    config = make_stage2_config(
        "coco",
        backbone=setting.backbone,
        crop_size=setting.crop2,
        batch_size=setting.batch2,
    )
    model, optimizer = build_stage2(config, setting.classes, None, device, channels_last=channels_last)
    forward = cast(torch.nn.Module, torch.compile(model)) if compile_ else model
    scribble, pseudo = synthetic_labels(setting.batch2, setting.crop2, setting.classes)
    batch = Stage2Batch(
        image=torch.randn(setting.batch2, 3, setting.crop2, setting.crop2, device=device),
        scribble=torch.from_numpy(scribble.astype(np.int64)).to(device),
        pseudo=torch.from_numpy(pseudo.astype(np.int64)).to(device),
        d_s=torch.from_numpy(np.stack([scribble_distance_map(s, 1.0) for s in scribble])).to(device),
        d_c=torch.from_numpy(np.stack([pseudo_boundary_distance_map(p, 7.0) for p in pseudo])).to(device),
    )

    def step(k: int) -> None:
        stage2_step(model, forward, optimizer, [batch], config, 1e-3, bf16, channels_last)

    for k in range(setting.warmup):
        step(k)
    reset_peak(device)
    return setting.batch2 / timed(step, setting.steps, 0, device), peak_memory_mb(device)

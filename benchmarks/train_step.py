"""Training throughput of both stages on whatever device is present, through the real train steps.

Stage 1: iterations/s of ``csptrain.stage1.train.train_step`` (all ToCo terms + L_segs,
multi-scale CAM, PAR and local crops included) at 448^2, and the dense-energy
regulariser's share of the step (its forward and backward). Stage 2: images/s of
``csptrain.stage2.train.train_step`` (all five losses) at 465^2; on CUDA it compares fp32 /
bf16, with and without channels_last and torch.compile, and reports LoRM's peak memory.
Both report a whole step's peak memory (GPU memory on CUDA, the process's peak RSS on CPU).
Stage-1 images are crops of the embedded COCO sample (the regulariser's lattice grows with
the colours an image holds, so noise would overstate it); stage-2 images are random, with a
scribble stripe, a pseudo-label square and distance maps from the training code: data
loading is not timed (``benchmarks/stage2_data.py`` times it).

    python benchmarks/train_step.py [--stage 1 2] [--device cpu] [--batch-size 1] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json
import resource
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
import torch

import csptrain.stage1.train as stage1_train
from csptrain.data.distance import pseudo_boundary_distance_map, scribble_distance_map
from csptrain.data.layout import normalise
from csptrain.models.lorm import LoRM
from csptrain.stage1.config import make_stage1_config
from csptrain.stage1.par import PAR
from csptrain.stage1.train import build_stage1
from csptrain.stage1.train import train_step as stage1_step
from csptrain.stage2.config import make_stage2_config
from csptrain.stage2.train import build_stage2
from csptrain.stage2.train import train_step as stage2_step
from scribblesim.datasets.sample import coco_sample_root


def labels(batch: int, crop: int, classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    scribble = np.full((batch, crop, crop), 255, np.uint8)
    scribble[:, crop // 2 - 2 : crop // 2 + 2, crop // 4 : 3 * crop // 4] = rng.integers(1, classes)
    scribble[:, 4:8, 4 : crop - 4] = 0
    pseudo = np.zeros((batch, crop, crop), np.uint8)
    pseudo[:, crop // 4 : 3 * crop // 4, crop // 4 : 3 * crop // 4] = 1
    return scribble, pseudo


def synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(step: Callable[[int], object], steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per step after ``warmup`` untimed steps."""
    for k in range(warmup):
        step(k)
    synchronise(device)
    start = time.perf_counter()
    for k in range(steps):
        step(warmup + k)
    synchronise(device)
    return (time.perf_counter() - start) / steps


def reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def peak_memory_mb(device: torch.device) -> float:
    """Peak GPU memory since the last reset on CUDA; on CPU the process's peak resident set."""
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
    def active(self):
        original = stage1_train.dense_energy_loss

        def clocked(images, probabilities, *args, **kwargs):
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

        stage1_train.dense_energy_loss = clocked
        try:
            yield self
        finally:
            stage1_train.dense_energy_loss = original


def centre_crop(path: Path, crop: int) -> np.ndarray:
    """The ``crop`` x ``crop`` centre of an image resized so that its shorter side is ``crop`` (uint8 RGB)."""
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    scale = crop / min(image.shape[:2])
    image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)))
    top, left = (image.shape[0] - crop) // 2, (image.shape[1] - crop) // 2
    return image[top : top + crop, left : left + crop]


def sample_images(batch: int, crop: int) -> torch.Tensor:
    """``batch`` normalised ``crop`` x ``crop`` centre crops of the embedded COCO sample's images."""
    paths = sorted((coco_sample_root() / "train2017").glob("*.jpg"))[:batch]
    crops = [normalise(centre_crop(path, crop)) for path in paths * (batch // len(paths) + 1)]
    return torch.stack(crops[:batch])


def stage1_rate(args, device: torch.device, bf16: bool) -> dict[str, float]:
    """Seconds per step, the regulariser's seconds in it, and the step's peak memory."""
    config = make_stage1_config(
        "coco",
        backbone=args.vit,
        crop_size=args.crop1,
        batch_size=args.batch1,
        local_crop_size=min(96, args.crop1 // 2),
        seg_start=0.0,
        contrast_start=0.0,
        device=str(device),
    )
    model, optimizer = build_stage1(config, args.classes, None, device)
    par = PAR(config.par_dilations, config.par_iterations).to(device)
    scribble, _ = labels(args.batch1, args.crop1, args.classes)
    image_labels = torch.zeros(args.batch1, args.classes - 1, device=device)
    image_labels[:, 0] = 1
    images = sample_images(args.batch1, args.crop1).to(device)
    batch = {name: images.clone() for name in ("image", "global_view", "local_source")}
    batch.update(
        scribble=torch.from_numpy(scribble.astype(np.int64)).to(device),
        image_labels=image_labels,
        box=torch.tensor([[0, args.crop1, 0, args.crop1]] * args.batch1, device=device),
    )
    model.train()

    def step(k: int) -> None:
        stage1_step(model, model, optimizer, [batch], config, k, par, bf16)

    for k in range(args.warmup):
        step(k)
    reset_peak(device)
    clock = RegulariserClock(device)
    with clock.active():
        wall = timed(step, args.steps, 0, device)
    return {
        "step_s": wall - clock.extra_s / args.steps,
        "regulariser_s": clock.regulariser_s / args.steps,
        "peak_memory_mb": peak_memory_mb(device),
    }


def stage2_rate(args, device: torch.device, bf16: bool, channels_last: bool, compile_: bool) -> tuple[float, float]:
    """Images per second and the step's peak memory."""
    config = make_stage2_config(
        "coco", backbone=args.backbone, crop_size=args.crop2, batch_size=args.batch2, channels_last=channels_last
    )
    model, optimizer = build_stage2(config, args.classes, None, device)
    forward = torch.compile(model) if compile_ else model
    scribble, pseudo = labels(args.batch2, args.crop2, args.classes)
    batch = {
        "image": torch.randn(args.batch2, 3, args.crop2, args.crop2, device=device),
        "scribble": torch.from_numpy(scribble.astype(np.int64)).to(device),
        "pseudo": torch.from_numpy(pseudo.astype(np.int64)).to(device),
        "d_s": torch.from_numpy(np.stack([scribble_distance_map(s, 1.0) for s in scribble])).to(device),
        "d_c": torch.from_numpy(np.stack([pseudo_boundary_distance_map(p, 7.0) for p in pseudo])).to(device),
    }

    def step(k: int) -> None:
        stage2_step(model, forward, optimizer, [batch], config, 1e-3, bf16)

    for k in range(args.warmup):
        step(k)
    reset_peak(device)
    return args.batch2 / timed(step, args.steps, 0, device), peak_memory_mb(device)


def lorm_memory(args, device: torch.device) -> str:
    grid = -(-args.crop2 // 8)
    if device.type != "cuda":
        return f"LoRM attention at {args.crop2}^2: HW = {grid * grid}, {grid**4 * 4 / 2**20:.0f} MB fp32 per image (computed, CPU)"
    lorm = LoRM(2048).to(device)
    features = torch.randn(args.batch2, 2048, grid, grid, device=device, requires_grad=True)
    foreground = torch.ones(args.batch2, grid, grid, device=device)
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        lorm(features, foreground).backward()
    peak = torch.cuda.max_memory_allocated() - base
    return f"LoRM at {args.crop2}^2 (HW = {grid * grid}), batch {args.batch2}: peak {peak / 2**30:.2f} GiB forward+backward (bf16)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", type=int, nargs="+", default=[1, 2], choices=[1, 2])
    parser.add_argument("--vit", default="vit_base_patch16_224")
    parser.add_argument("--crop1", type=int, default=448)
    parser.add_argument("--batch1", type=int, default=2, help="Stage-1 samples per step (Table A4's SPG).")
    parser.add_argument("--backbone", default="resnet101")
    parser.add_argument("--crop2", type=int, default=465)
    parser.add_argument("--batch2", type=int, default=16)
    parser.add_argument("--batch-size", type=int, help="Samples per step of both stages (overrides --batch1/--batch2).")
    parser.add_argument("--classes", type=int, default=81)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--json", action="store_true", help="Print one JSON object (bf16 on CUDA, fp32 on CPU).")
    args = parser.parse_args()
    if args.batch_size:
        args.batch1 = args.batch2 = args.batch_size
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    cuda = device.type == "cuda"
    if args.json:
        print(json.dumps(measure(args, device, bf16=cuda)))
        return
    if 1 in args.stage:
        print(f"{name}: stage 1, {args.vit}, {args.crop1}^2 crops, batch {args.batch1}, all ToCo terms + L_segs\n")
        print(f"{'precision':>9} {'iterations/s':>12} {'images/s':>9} {'regulariser':>11} {'peak MiB':>9}")
        for bf16 in (False, True) if cuda else (False,):
            one = stage1_rate(args, device, bf16)
            rate = 1 / one["step_s"]
            share = one["regulariser_s"] / one["step_s"]
            print(
                f"{'bf16' if bf16 else 'fp32':>9} {rate:12.2f} {rate * args.batch1:9.1f} "
                f"{share:10.1%} {one['peak_memory_mb']:9.0f}"
            )
        print()
    if 2 in args.stage:
        print(f"{name}: stage 2, {args.backbone}, {args.crop2}^2 crops, batch {args.batch2}, all five losses\n")
        print(f"{'precision':>9} {'channels_last':>13} {'compile':>7} {'images/s':>9} {'peak MiB':>9}")
        options = itertools.product((False, True), (False, True), (False, True)) if cuda else [(False, False, False)]
        for bf16, channels_last, compile_ in options:
            rate, peak = stage2_rate(args, device, bf16, channels_last, compile_)
            print(
                f"{'bf16' if bf16 else 'fp32':>9} {str(channels_last):>13} {str(compile_):>7} {rate:9.1f} {peak:9.0f}"
            )
        print("\n" + lorm_memory(args, device))


def measure(args, device: torch.device, bf16: bool) -> dict[str, float]:
    """The JSON figures: stage 1's unprefixed (``step_s``, ``regulariser_s``, ...), stage 2's as ``stage2_*``."""
    out: dict[str, float] = {}
    if 1 in args.stage:
        one = stage1_rate(args, device, bf16)
        out.update(one, regulariser_share=one["regulariser_s"] / one["step_s"])
    if 2 in args.stage:
        rate, peak = stage2_rate(args, device, bf16, channels_last=device.type == "cuda", compile_=False)
        out.update(stage2_images_per_s=rate, stage2_step_s=args.batch2 / rate, stage2_peak_memory_mb=peak)
    return out


if __name__ == "__main__":
    main()

"""Images/s of one stage-2 training step (all five losses) on whatever device is present.

On CUDA it compares fp32 / bf16, with and without channels_last and torch.compile, and
reports LoRM's peak memory at the crop size. Inputs are synthetic (random images, random
scribbles and pseudo-labels, distance maps computed by the same EDT code as training), so
only the model step is timed, not data loading.

    python benchmarks/train_step.py [--backbone resnet101] [--crop 465] [--batch 16] [--steps 10]
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
import torch

from csptrain.distance import pseudo_boundary_distance_map, scribble_distance_map
from csptrain.lorm import LoRM
from csptrain.presets import make_config
from csptrain.train import Stage2Model, stage2_losses


def synthetic_batch(batch: int, crop: int, classes: int, device: torch.device) -> dict:
    rng = np.random.default_rng(0)
    scribble = np.full((batch, crop, crop), 255, np.uint8)
    scribble[:, crop // 2 - 2 : crop // 2 + 2, crop // 4 : 3 * crop // 4] = rng.integers(1, classes)
    pseudo = np.zeros((batch, crop, crop), np.uint8)
    pseudo[:, crop // 4 : 3 * crop // 4, crop // 4 : 3 * crop // 4] = 1
    return {
        "image": torch.randn(batch, 3, crop, crop, device=device),
        "scribble": torch.from_numpy(scribble.astype(np.int64)).to(device),
        "pseudo": torch.from_numpy(pseudo.astype(np.int64)).to(device),
        "d_s": torch.from_numpy(np.stack([scribble_distance_map(s, 1.0) for s in scribble])).to(device),
        "d_c": torch.from_numpy(np.stack([pseudo_boundary_distance_map(p, 7.0) for p in pseudo])).to(device),
    }


def images_per_second(args, device, bf16: bool, channels_last: bool, compile_: bool) -> float:
    config = make_config("coco", backbone=args.backbone, crop_size=args.crop, batch_size=args.batch)
    model = Stage2Model(config, args.classes, None).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    forward = torch.compile(model) if compile_ else model
    optimizer = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    batch = synthetic_batch(args.batch, args.crop, args.classes, device)
    if channels_last:
        batch["image"] = batch["image"].contiguous(memory_format=torch.channels_last)

    def step() -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            terms = stage2_losses(forward(batch["image"]), batch, config, model.lorm)
        optimizer.zero_grad(set_to_none=True)
        sum(terms.values()).backward()
        optimizer.step()

    for _ in range(args.warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(args.steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return args.batch * args.steps / (time.perf_counter() - start)


def lorm_memory(args, device) -> str:
    if device.type != "cuda":
        grid = -(-args.crop // 8)
        return f"LoRM attention at {args.crop}^2: HW = {grid * grid}, {grid**4 * 4 / 2**20:.0f} MB fp32 per image (computed, CPU)"
    grid = -(-args.crop // 8)
    lorm = LoRM(2048).to(device)
    features = torch.randn(args.batch, 2048, grid, grid, device=device, requires_grad=True)
    foreground = torch.ones(args.batch, grid, grid, device=device)
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        lorm(features, foreground).backward()
    peak = torch.cuda.max_memory_allocated() - base
    return f"LoRM at {args.crop}^2 (HW = {grid * grid}), batch {args.batch}: peak {peak / 2**30:.2f} GiB forward+backward (bf16)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet101")
    parser.add_argument("--crop", type=int, default=465)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--classes", type=int, default=81)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    device = torch.device(args.device)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    print(f"{name}: {args.backbone}, {args.crop}^2 crops, batch {args.batch}, all five losses\n")
    print(f"{'precision':>9} {'channels_last':>13} {'compile':>7} {'images/s':>9}")
    options = itertools.product((False, True), (False, True), (False, True)) if device.type == "cuda" else [(False, False, False)]
    for bf16, channels_last, compile_ in options:
        rate = images_per_second(args, device, bf16, channels_last, compile_)
        print(f"{'bf16' if bf16 else 'fp32':>9} {str(channels_last):>13} {str(compile_):>7} {rate:9.1f}")
    print("\n" + lorm_memory(args, device))


if __name__ == "__main__":
    main()

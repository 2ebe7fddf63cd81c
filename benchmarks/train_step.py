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
loading is not timed (``benchmarks/stage2_data.py`` times it). The timed steps are
:mod:`lab.throughput`; this script parses its arguments and prints.

    python benchmarks/train_step.py [--stage 1 2] [--device cpu] [--batch-size 1] [--json]
"""

from __future__ import annotations

import argparse
import itertools
import json

import torch
from lab.throughput import stage1_rate, stage2_rate

from csptrain.models.lorm import LoRM


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

"""One command for a lent GPU: csptrain's costs at the paper's scale, and the paper's runs projected.

On one device it measures, through the real training and evaluation code:

- stage 1: iterations/s at 448^2 with ViT-B/16, batch 2, bf16, every ToCo term + L_segs on,
  and the dense-energy regulariser's share of the step;
- stage 2: images/s at 465^2 with DeepLabV3+ ResNet-101, batch 16, bf16, channels_last, on
  device-resident batches and fed by real DataLoader workers from a generated 640 x 480
  COCO-like build (``benchmarks/stage2_data.py`` writes it);
- the peak memory of both steps, pseudo-label images/s (multi-scale CAM + PAR) at COCO and
  Cityscapes sizes, and evaluation windows/s (465 px windows, as the authors' protocol);

then projects the wall time of the paper's COCO and Cityscapes runs on 4 GPUs (one seed;
data-parallel scaling taken as linear). It takes a few minutes on an H100; ``--tiny`` runs
tiny models on tiny inputs, on the CPU if no GPU is present, so that the tests can run it.

    python benchmarks/gpu_check.py [--json] [--tiny] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch
from lab.throughput import peak_memory_mb, reset_peak, stage1_rate, stage2_rate, synchronise, timed

from csptrain.data.loader import batches_from, steps_per_epoch
from csptrain.data.stage2 import Augment, ScribbleDataset
from csptrain.runtime.settings import default_workers
from csptrain.stage1.config import make_stage1_config
from csptrain.stage1.par import PAR
from csptrain.stage1.pseudo import pseudo_labels
from csptrain.stage1.train import build_stage1
from csptrain.stage2.config import make_stage2_config
from csptrain.stage2.evaluate import ScaleGrid, window_batch_for
from csptrain.stage2.protocol import protocol_for
from csptrain.stage2.train import build_stage2
from csptrain.stage2.train import train_step as stage2_step

# the sibling benchmark script (the script's folder is on sys.path)
from stage2_data import SCRIBBLES, write_dataset

#: The paper's settings (Tables A4/A5) and what one check measures.
PAPER = SimpleNamespace(
    vit="vit_base_patch16_224", crop1=448, batch1=2, backbone="resnet101", crop2=465, batch2=16, classes=81,
    steps=8, warmup=3, loader_steps=12, images=256, pseudo_images=3, coco_size=(480, 640), cityscapes_size=(1024, 2048),
)  # fmt: skip
TINY = SimpleNamespace(
    vit="vit_tiny_patch16_224", crop1=64, batch1=1, backbone="resnet18", crop2=65, batch2=2, classes=81,
    steps=1, warmup=1, loader_steps=2, images=4, pseudo_images=1, coco_size=(48, 64), cityscapes_size=(64, 128),
)  # fmt: skip
#: The paper's data: training images (ScribbleCOCO: COCO 2014 train; Cityscapes train),
#: evaluation images and their (height, width); each name is also its stage-1 and stage-2 preset.
RUNS = {
    "coco": dict(train=82_783, val=40_504, size=(480, 640)),
    "cityscapes": dict(train=2_975, val=500, size=(1024, 2048)),
}
GPUS = 4


def pseudo_rate(
    model, par: PAR, config, classes: int, size: tuple[int, int], count: int, device: torch.device
) -> float:
    """Seconds per image of stage 1's pseudo-labels (multi-scale CAM + PAR) at ``size``."""
    images = [torch.randn(3, *size, device=device) for _ in range(count)]
    labels = torch.zeros(count, classes - 1, device=device)
    labels[:, 0] = 1
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        pseudo_labels(model, par, images[:1], labels[:1], config)
        synchronise(device)
        start = time.perf_counter()
        pseudo_labels(model, par, images, labels, config)
        synchronise(device)
    return (time.perf_counter() - start) / count


def stage1_figures(setting: SimpleNamespace, device: torch.device, bf16: bool) -> dict[str, float]:
    """Stage 1's step, regulariser and memory, and pseudo-label seconds per image at both sizes."""
    step = stage1_rate(setting, device, bf16)
    config = make_stage1_config(
        "coco", backbone=setting.vit, crop_size=setting.crop1, local_crop_size=min(96, setting.crop1 // 2)
    )
    model, _ = build_stage1(config, setting.classes, None, device)
    par = PAR(config.par_dilations, config.par_iterations).to(device)
    return {
        "stage1_step_s": step["step_s"],
        "stage1_iterations_per_s": 1 / step["step_s"],
        "regulariser_share": step["regulariser_s"] / step["step_s"],
        "stage1_peak_memory_mb": step["peak_memory_mb"],
    } | {
        f"pseudo_{name}_s": pseudo_rate(model, par, config, setting.classes, size, setting.pseudo_images, device)
        for name, size in (("coco", setting.coco_size), ("cityscapes", setting.cityscapes_size))
    }


def loader_rate(setting: SimpleNamespace, device: torch.device, bf16: bool, root: Path) -> tuple[float, int]:
    """Stage-2 images/s fed by DataLoader workers from the build at ``root``, and the workers used."""
    config = make_stage2_config("coco", backbone=setting.backbone, crop_size=setting.crop2, batch_size=setting.batch2)
    model, optimizer = build_stage2(config, setting.classes, None, device)
    augment = Augment(
        config.crop_size, config.scale_min, config.scale_max, config.rotation, config.blur, config.dpm_pad
    )
    dataset = ScribbleDataset(root, "train", SCRIBBLES, root / "pseudo", augment, config.lambda_s, config.lambda_c)
    per_epoch = steps_per_epoch(len(dataset), setting.batch2, 1, "train")
    workers = default_workers()
    batches = batches_from(0, dataset, setting.batch2, per_epoch, workers, 0, device)

    def step(_: int) -> None:
        stage2_step(model, model, optimizer, [next(batches)], config, 1e-3, bf16)

    seconds = timed(step, setting.loader_steps, setting.warmup, device)
    return setting.batch2 / seconds, workers


def evaluation_rate(setting: SimpleNamespace, device: torch.device) -> dict[str, float]:
    """Evaluation windows/s (bf16 and channels_last on CUDA, as ``csptrain eval``), and windows per image."""
    config = make_stage2_config("coco", backbone=setting.backbone, crop_size=setting.crop2)
    model, _ = build_stage2(config, setting.classes, None, device)
    model.eval()
    batch = window_batch_for(device)
    windows = torch.randn(batch, 3, setting.crop2, setting.crop2, device=device)
    cuda = device.type == "cuda"
    if cuda:
        model, windows = model.to(memory_format=torch.channels_last), windows.to(memory_format=torch.channels_last)

    @torch.no_grad()
    def forward(_: int) -> None:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            model(windows)["out"].float().softmax(1)

    seconds = timed(forward, setting.steps, setting.warmup, device)
    out = {"eval_windows_per_s": batch / seconds}
    for name, run in RUNS.items():
        preset = make_stage2_config(name)
        protocol = protocol_for(preset)
        assert protocol.base_size is not None and protocol.window is not None and protocol.stride is not None
        height, width = run["size"]
        out[f"eval_{name}_windows_per_image"] = sum(
            len(ScaleGrid.of(height, width, round(scale * protocol.base_size), protocol.window, protocol.stride).starts)
            for scale in protocol.scales
        ) * (2 if protocol.flip else 1)
    return out


def projection(figures: dict[str, float], batch1: int) -> dict[str, dict[str, float]]:
    """Hours of each paper run on :data:`GPUS` GPUs: stage 1, pseudo-labels, stage 2, evaluation.

    ``batch1`` is the stage-1 batch of the measured step.
    """
    out = {}
    for name, run in RUNS.items():
        stage1 = make_stage1_config(name)
        stage2 = make_stage2_config(name)
        # every GPU takes one measured step (batch1 images) per share of the global batch
        steps = stage1.iterations * stage1.global_batch / (GPUS * batch1)
        hours = {
            "stage1": steps * figures["stage1_step_s"] / 3600,
            "pseudo": run["train"] * figures[f"pseudo_{name}_s"] / GPUS / 3600,
            "stage2": stage2.epochs * run["train"] / (GPUS * figures["stage2_loader_images_per_s"]) / 3600,
            "eval": run["val"]
            * figures[f"eval_{name}_windows_per_image"]
            / (GPUS * figures["eval_windows_per_s"])
            / 3600,
        }
        out[name] = {**hours, "total": sum(hours.values())}
    return out


def check(setting: SimpleNamespace, device: torch.device) -> dict:
    """Every figure of the check, and the projection."""
    bf16 = device.type == "cuda"
    figures: dict = {
        "device": torch.cuda.get_device_name(device) if bf16 else "CPU",
        "precision": "bf16" if bf16 else "fp32",
    }
    figures.update(stage1_figures(setting, device, bf16))
    rate, peak = stage2_rate(setting, device, bf16, channels_last=bf16, compile_=False)
    figures.update(stage2_images_per_s=rate, stage2_peak_memory_mb=peak)
    with tempfile.TemporaryDirectory() as folder:
        height, width = setting.coco_size
        root = write_dataset(Path(folder) / "coco", setting.images, (width, height), ".jpg", 3, 5)
        reset_peak(device)
        figures["stage2_loader_images_per_s"], figures["stage2_loader_workers"] = loader_rate(
            setting, device, bf16, root
        )
        figures["stage2_loader_peak_memory_mb"] = peak_memory_mb(device)
    figures.update(evaluation_rate(setting, device))
    figures["projection_hours"] = projection(figures, setting.batch1)
    return figures


def print_table(figures: dict, setting: SimpleNamespace) -> None:
    print(f"{figures['device']}, {figures['precision']}, one device\n")
    one = f"{setting.vit}, {setting.crop1}^2, batch {setting.batch1}, every term"
    two = f"{setting.backbone}, {setting.crop2}^2, batch {setting.batch2}"
    rows = [
        (f"stage 1 iterations/s ({one})", f"{figures['stage1_iterations_per_s']:.2f}"),
        ("  regulariser's share of the step", f"{figures['regulariser_share']:.1%}"),
        ("  peak memory (MiB)", f"{figures['stage1_peak_memory_mb']:.0f}"),
        ("pseudo-labels s/image, COCO / Cityscapes size", f"{figures['pseudo_coco_s']:.3f} / {figures['pseudo_cityscapes_s']:.3f}"),
        (f"stage 2 images/s ({two}), on device", f"{figures['stage2_images_per_s']:.1f}"),
        ("  peak memory (MiB)", f"{figures['stage2_peak_memory_mb']:.0f}"),
        (f"  fed by {figures['stage2_loader_workers']} DataLoader workers", f"{figures['stage2_loader_images_per_s']:.1f}"),
        (f"evaluation windows/s ({setting.crop2}^2)", f"{figures['eval_windows_per_s']:.1f}"),
    ]  # fmt: skip
    for label, value in rows:
        print(f"{label:<72} {value:>15}")
    print(f"\nProjected hours on {GPUS} GPUs, one seed (linear data-parallel scaling)\n")
    print(f"{'run':<11} {'stage 1':>8} {'pseudo':>8} {'stage 2':>8} {'eval':>8} {'total':>8}")
    for name, hours in figures["projection_hours"].items():
        print(f"{name:<11} " + " ".join(f"{hours[k]:8.1f}" for k in ("stage1", "pseudo", "stage2", "eval", "total")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--tiny", action="store_true", help="Tiny models and inputs (what the tests run).")
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the tables.")
    args = parser.parse_args()
    setting = TINY if args.tiny else PAPER
    figures = check(setting, torch.device(args.device))
    if args.json:
        print(json.dumps(figures))
    else:
        print_table(figures, setting)


if __name__ == "__main__":
    main()

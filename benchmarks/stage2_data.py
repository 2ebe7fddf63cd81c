"""Stage-2 data loading per sample, one process: read, DPM maps and augmentation (``dataset[i]``).

Writes, in a temporary folder, two stage-2 data folders in the layout ``ScribbleDataset``
reads: COCO-like (640 x 480 JPEGs) and Cityscapes-like (2048 x 1024 PNGs), both made from
the embedded COCO sample's images and object masks, with scribble strokes of every class
present (background included, 255 elsewhere) and pseudo-labels (the masks with an uncertain
band of 255 along object edges). Each is loaded with its stage-2 preset (crop size, lambda_s,
lambda_c, augmentation) and timed over several epochs of random draws, the fastest pass
counting (this machine's speed drifts). The old path (full-resolution maps with scipy's EDT,
then whole-image augmentation) is timed once for comparison; ``read`` is the decoding of the
image and both label PNGs alone, part of every path.

    python benchmarks/stage2_data.py [--coco 16] [--cityscapes 6] [--epochs 2] [--repeat 3] [--json]

``--json`` prints one JSON object instead of the table: ``coco_ms`` and ``cityscapes_ms``
(wall milliseconds per sample) and the other columns.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image
from scipy import ndimage

from csptrain.data.labels import IGNORE, read_labels
from csptrain.data.layout import find_image, read_image
from csptrain.data.stage2 import Augment, ScribbleDataset
from csptrain.stage2.config import make_stage2_config
from scribblesim.datasets.coco import coco_samples
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root

#: name -> (stage-2 preset, image size (width, height), image suffix, stroke width, uncertain band)
DATASETS = {
    "coco": ("coco", (640, 480), ".jpg", 3, 5),
    "cityscapes": ("cityscapes", (2048, 1024), ".png", 5, 9),
}
SCRIBBLES = "bench_scribble_r1"


def strokes(semantic: np.ndarray, rng: np.random.Generator, width: int) -> np.ndarray:
    """Two polyline strokes inside each class region (eroded by the stroke width), 255 elsewhere."""
    scribble = np.full(semantic.shape, 255, dtype=np.uint8)
    kernel = np.ones((2 * width + 1, 2 * width + 1), np.uint8)
    for cls in np.unique(semantic[semantic != 255]):
        inside = cv2.erode((semantic == cls).astype(np.uint8), kernel)
        ys, xs = np.nonzero(inside)
        if len(ys) < 20:
            continue
        for _ in range(2):
            pick = rng.choice(len(ys), size=6, replace=False)
            points = np.stack([xs[pick], ys[pick]], axis=1)
            points = points[np.argsort(points[:, np.argmax(points.std(0))])]  # along the spread
            line = np.zeros_like(inside)
            cv2.polylines(line, [points.reshape(-1, 1, 2).astype(np.int32)], False, 1, width)
            scribble[(line > 0) & (inside > 0)] = cls
    return scribble


def write_dataset(out: Path, count: int, size: tuple[int, int], suffix: str, width: int, band: int) -> Path:
    """A stage-2 data folder of ``count`` embedded COCO images (repeated when fewer) resized to ``size``."""
    rng = np.random.default_rng(0)
    samples = [s.load() for s in coco_samples(coco_sample_root(), COCO_SAMPLE_SPLIT)]
    samples = [s for s in samples if len(s.classes)]
    samples = [samples[k % len(samples)] for k in range(count)]  # more images than the sample has: repeats
    for folder in ("JPEGImages", SCRIBBLES, "pseudo", "ImageSets/SegmentationAug"):
        (out / folder).mkdir(parents=True, exist_ok=True)
    names = []
    for k, sample in enumerate(samples):
        name = f"bench_{k:04d}"
        assert sample.image_path is not None
        image = cv2.resize(np.asarray(Image.open(sample.image_path).convert("RGB")), size)
        semantic = cv2.resize(sample.semantic, size, interpolation=cv2.INTER_NEAREST)
        Image.fromarray(image).save(out / "JPEGImages" / f"{name}{suffix}", quality=90)
        Image.fromarray(strokes(semantic, rng, width)).save(out / SCRIBBLES / f"{name}.png")
        pseudo = semantic.copy()
        square = np.ones((band, band), np.uint8)
        pseudo[cv2.dilate(semantic, square) != cv2.erode(semantic, square)] = 255
        Image.fromarray(pseudo).save(out / "pseudo" / f"{name}.png")
        names.append(name)
    (out / "ImageSets/SegmentationAug/train.txt").write_text("".join(f"{n}\n" for n in names))
    return out


def old_maps(scribble: np.ndarray, pseudo: np.ndarray, lam_s: float, lam_c: float) -> list[np.ndarray]:
    """The DPM maps as computed before: scipy's exact EDT over the whole image."""

    def truncated(points: np.ndarray, lam: float) -> np.ndarray:
        distance = ndimage.distance_transform_edt(~points) if points.any() else np.full(points.shape, np.inf)
        return np.minimum(np.floor(np.exp(lam / 2.0) * distance), 255.0) / 255.0

    foreground = (scribble != 0) & (scribble != IGNORE)
    regions = (pseudo != 0) & (pseudo != IGNORE)
    boundary = regions & ~ndimage.binary_erosion(regions, border_value=1)
    return [(1.0 - truncated(foreground, lam_s)).astype(np.float32), truncated(boundary, lam_c).astype(np.float32)]


def old_item(dataset: ScribbleDataset, index: int) -> None:
    """``dataset[index]`` as it was: full-resolution maps, then whole-image augmentation."""
    name = dataset.ids[index]
    image = read_image(find_image(dataset.data, name))
    scribble = read_labels(dataset.scribbles / f"{name}.png")
    pseudo = read_labels(Path(dataset.pseudo) / f"{name}.png")  # type: ignore[arg-type]
    maps = old_maps(scribble, pseudo, dataset.lambda_s, dataset.lambda_c)
    dataset.augment(image, [scribble, pseudo], maps, dataset.rng(index))


def read_only(dataset: ScribbleDataset, index: int) -> None:
    name = dataset.ids[index]
    read_image(find_image(dataset.data, name))
    read_labels(dataset.scribbles / f"{name}.png")
    read_labels(Path(dataset.pseudo) / f"{name}.png")  # type: ignore[arg-type]


def per_sample(load, dataset: ScribbleDataset, epochs: int) -> tuple[float, float]:
    """(wall ms, CPU ms) per sample of ``load(dataset, i)`` over ``epochs`` epochs of the dataset."""
    wall, cpu, count = time.perf_counter(), time.process_time(), 0
    for epoch in range(epochs):
        dataset.epoch = epoch
        for index in range(len(dataset)):
            load(dataset, index)
            count += 1
    return (time.perf_counter() - wall) * 1000 / count, (time.process_time() - cpu) * 1000 / count


def measure(name: str, root: Path, args: argparse.Namespace) -> dict[str, float]:
    preset, size, suffix, width, band = DATASETS[name]
    count = args.coco if name == "coco" else args.cityscapes
    data = write_dataset(root / name, count, size, suffix, width, band)
    config = make_stage2_config(preset)
    augment = Augment(
        config.crop_size, config.scale_min, config.scale_max, config.rotation, config.blur, config.dpm_pad
    )
    dataset = ScribbleDataset(
        data, "train", SCRIBBLES, data / "pseudo", augment, config.lambda_s, config.lambda_c, config.seed
    )
    dataset[0]  # once untimed: imports and first-call set-up
    runs = [per_sample(lambda d, i: d[i], dataset, args.epochs) for _ in range(args.repeat)]
    new = min(runs)
    read = min(per_sample(read_only, dataset, 1) for _ in range(args.repeat))
    results = {
        f"{name}_ms": new[0],
        f"{name}_cpu_ms": new[1],
        f"{name}_read_ms": read[0],
        f"{name}_crop": config.crop_size,
        f"{name}_lambda_s": config.lambda_s,
    }
    if not args.no_old:
        old = per_sample(old_item, dataset, 1)
        results.update({f"{name}_old_ms": old[0], f"{name}_old_cpu_ms": old[1]})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--coco", type=int, default=16, help="COCO-like images (default 16).")
    parser.add_argument("--cityscapes", type=int, default=6, help="Cityscapes-like images (default 6).")
    parser.add_argument("--epochs", type=int, default=2, help="Epochs (random draws) per timed pass (default 2).")
    parser.add_argument("--repeat", type=int, default=3, help="Timed passes; the fastest counts (default 3).")
    parser.add_argument("--no-old", action="store_true", help="Skip timing the old full-resolution path.")
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead of the table.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        results: dict[str, float] = {}
        for name in DATASETS:
            results.update(measure(name, Path(tmp), args))
    if args.json:
        print(json.dumps({k: round(v, 2) for k, v in results.items()}))
        return
    print(
        f"stage-2 data, one process, OpenCV {cv2.__version__} with {cv2.getNumThreads()} threads; "
        f"ms per sample (fastest of {args.repeat})\n"
    )
    print(
        f"{'dataset':>10} {'image':>11} {'crop':>5} {'ms':>7} {'CPU ms':>7} {'read ms':>8} {'old ms':>7} {'old CPU':>8}"
    )
    for name, (_, size, suffix, _, _) in DATASETS.items():
        r = {k.removeprefix(f"{name}_"): v for k, v in results.items() if k.startswith(f"{name}_")}
        old = f"{r['old_ms']:7.1f} {r['old_cpu_ms']:8.1f}" if "old_ms" in r else f"{'-':>7} {'-':>8}"
        print(
            f"{name:>10} {f'{size[0]}x{size[1]}{suffix}':>11} {int(r['crop']):>5} {r['ms']:7.1f} {r['cpu_ms']:7.1f} "
            f"{r['read_ms']:8.1f} {old}"
        )


if __name__ == "__main__":
    main()

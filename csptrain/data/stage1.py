"""Stage-1 data: ToCo's views of an image, with its scribble following every geometric step.

Geometry (ToCo's ``datasets/transforms.py``): rescale by U(0.5, 2), horizontal flip, then a
random crop from the image zero-padded at a random offset; the scribble takes the same
steps (padding = IGNORE) and the valid region is returned as a box. ToCo applies a second
random flip to the training view alone, which would leave the scribble (and the box)
behind; we leave it out, and the local-crop source keeps the training view's geometry so
the crops are picked from the right pixels.

Photometric steps use torchvision's transforms, seeded per sample from (seed, epoch,
index), so a sample is the same for any worker count and after a resume.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch.utils.data import Dataset
from torchvision import transforms as T

from scribblesim.engine.result import BACKGROUND

from ..errors import DataError
from .batches import Stage1Batch
from .labels import IGNORE, LABEL_DTYPE, read_labels
from .layout import find_image, normalise, read_image, read_split, resize_array


def image_labels(scribble: np.ndarray, num_classes: int) -> np.ndarray:
    """Multi-hot (num_classes - 1) of the scribble's foreground classes (Eq. 4)."""
    present = np.unique(scribble)
    present = present[(present != BACKGROUND) & (present != IGNORE)]
    labels = np.zeros(num_classes - 1, dtype=np.float32)
    labels[present.astype(np.int64) - 1] = 1.0
    return labels


@dataclass(frozen=True)
class ToCoAugment:
    """Random rescale, flip and zero-padded crop of an image and its label maps."""

    crop_size: int = 448
    scale_min: float = 0.5
    scale_max: float = 2.0

    def __call__(
        self, image: np.ndarray, labels: list[np.ndarray], rng: np.random.Generator
    ) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
        """The crop, its label maps and the box (top, bottom, left, right) of real pixels in it."""
        ratio = rng.uniform(self.scale_min, self.scale_max)
        size = (max(1, int(ratio * image.shape[0])), max(1, int(ratio * image.shape[1])))
        image = resize_array(image, size, nearest=False)
        labels = [resize_array(label, size, nearest=True) for label in labels]
        if rng.random() < 0.5:
            image, labels = image[:, ::-1], [label[:, ::-1] for label in labels]
        padded_size = (max(self.crop_size, size[0]), max(self.crop_size, size[1]))
        pad_top = int(rng.integers(0, padded_size[0] - size[0] + 1))
        pad_left = int(rng.integers(0, padded_size[1] - size[1] + 1))
        canvas = np.zeros((*padded_size, 3), dtype=np.uint8)
        canvas[pad_top : pad_top + size[0], pad_left : pad_left + size[1]] = image
        label_canvases = []
        for label in labels:
            label_canvas = np.full(padded_size, IGNORE, dtype=LABEL_DTYPE)
            label_canvas[pad_top : pad_top + size[0], pad_left : pad_left + size[1]] = label
            label_canvases.append(label_canvas)
        top = int(rng.integers(0, padded_size[0] - self.crop_size + 1))
        left = int(rng.integers(0, padded_size[1] - self.crop_size + 1))
        window = (slice(top, top + self.crop_size), slice(left, left + self.crop_size))
        box = np.array(
            [
                max(pad_top - top, 0),
                min(self.crop_size, pad_top + size[0] - top),
                max(pad_left - left, 0),
                min(self.crop_size, pad_left + size[1] - left),
            ],
            dtype=np.int64,
        )
        return canvas[window], [label[window] for label in label_canvases], box


class _PILBlur:
    """ToCo's Gaussian blur: radius U(0.1, 2) with probability p (torch's RNG)."""

    def __init__(self, p: float) -> None:
        self.p = p

    def __call__(self, image: Image.Image) -> Image.Image:
        if torch.rand(()) >= self.p:
            return image
        radius = 0.1 + 1.9 * float(torch.rand(()))
        return image.filter(ImageFilter.GaussianBlur(radius=radius))


def _jitter() -> list:
    return [T.RandomApply([T.ColorJitter(0.4, 0.4, 0.2, 0.1)], p=0.8), T.RandomGrayscale(p=0.2)]


class Stage1Dataset(Dataset):
    """Training samples of scribble-promoted ToCo.

    Each item holds ``image`` (v0: the training crop, jittered and blurred), ``scribble``
    (its labels, IGNORE outside), ``box``, ``image_labels`` (classes of the whole scribble),
    ``global_view`` (v1: a random resized crop of the original image) and ``local_source``
    (v0's crop re-jittered, from which the local crops are cut on the device).

    Parameters
    ----------
    data : path
        A ``scribblesim build`` output.
    split : str
    scribbles : str
        Scribble folder under ``data``.
    num_classes : int
        Background included.
    augment : ToCoAugment
    seed : int
    """

    def __init__(
        self, data: Path, split: str, scribbles: str, num_classes: int, augment: ToCoAugment, seed: int = 0
    ) -> None:
        self.data, self.scribbles = Path(data), Path(data) / scribbles
        if not self.scribbles.is_dir():
            raise DataError(f"{self.scribbles}: scribble folder not found")
        self.ids = read_split(data, split)
        self.num_classes, self.augment, self.seed = num_classes, augment, seed
        self.epoch = 0
        size = augment.crop_size
        self.training_view = T.Compose([*_jitter(), _PILBlur(1.0)])
        self.global_view = T.Compose(
            [
                T.RandomResizedCrop(size, scale=(0.4, 1.0), interpolation=T.InterpolationMode.BICUBIC),
                T.RandomHorizontalFlip(),
                *_jitter(),
                _PILBlur(0.1),
                T.RandomSolarize(128, p=0.2),
            ]
        )
        self.local_view = T.Compose([*_jitter(), _PILBlur(0.5)])

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """The image and its scribble, unaugmented."""
        name = self.ids[index]
        image = read_image(find_image(self.data, name))
        scribble = read_labels(self.scribbles / f"{name}.png")
        if scribble.shape != image.shape[:2]:
            raise DataError(
                f"{self.scribbles / name}.png: size {scribble.shape} differs from the image {image.shape[:2]}"
            )
        labelled = scribble[scribble != IGNORE]
        if labelled.size and labelled.max() >= self.num_classes:
            raise DataError(f"{self.scribbles / name}.png: class {int(labelled.max())} >= {self.num_classes} classes")
        return image, scribble

    def __getitem__(self, index: int) -> Stage1Batch:
        image, scribble = self.load(index)
        rng = np.random.default_rng([self.seed, self.epoch, index])
        crop, (scribble_crop,), box = self.augment(image, [scribble], rng)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(rng.integers(2**62)))
            crop_image = Image.fromarray(np.ascontiguousarray(crop))
            training_view = normalise(np.asarray(self.training_view(crop_image)))
            global_view = normalise(np.asarray(self.global_view(Image.fromarray(image))))
            local_source = normalise(np.asarray(self.local_view(crop_image)))
        return Stage1Batch(
            image=training_view,
            global_view=global_view,
            local_source=local_source,
            scribble=torch.from_numpy(scribble_crop.astype(np.int64)),
            box=torch.from_numpy(box),
            image_labels=torch.from_numpy(image_labels(scribble, self.num_classes)),
        )

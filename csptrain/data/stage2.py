"""Stage-2 data: images, scribbles and pseudo-labels from a ``scribblesim build`` folder.

Augmentation (random scale, flip, crop with mean/255 padding) is applied jointly to the
image and both label maps; the DPM distance maps are then computed on the augmented
labels with an exact EDT, so they follow the same geometry and are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from scribblesim.engine.result import UNLABELLED as IGNORE
from scribblesim.sets.scribble_set import read_label_map

from .distance import pseudo_boundary_distance_map, scribble_distance_map
from .layout import IMAGENET_MEAN, DataError, find_image, normalise, read_image, read_split, resize_array


@dataclass(frozen=True)
class Augment:
    """Random scale, horizontal flip and crop (padding the image by its mean, labels by 255)."""

    crop_size: int
    scale_min: float = 0.5
    scale_max: float = 2.0

    def __call__(self, image, labels, rng: np.random.Generator):
        scale = rng.uniform(self.scale_min, self.scale_max)
        size = (max(1, round(image.shape[0] * scale)), max(1, round(image.shape[1] * scale)))
        image = resize_array(image, size, nearest=False)
        labels = [resize_array(label, size, nearest=True) for label in labels]
        valid = np.ones(size, dtype=bool)
        if rng.random() < 0.5:
            image, labels, valid = image[:, ::-1], [label[:, ::-1] for label in labels], valid[:, ::-1]
        pad = (max(0, self.crop_size - size[0]), max(0, self.crop_size - size[1]))
        if any(pad):
            fill = (IMAGENET_MEAN * 255).round().astype(np.uint8)
            padded = np.empty((size[0] + pad[0], size[1] + pad[1], 3), dtype=np.uint8)
            padded[:] = fill
            padded[: size[0], : size[1]] = image
            image = padded
            labels = [np.pad(label, ((0, pad[0]), (0, pad[1])), constant_values=IGNORE) for label in labels]
            valid = np.pad(valid, ((0, pad[0]), (0, pad[1])), constant_values=False)
        top = int(rng.integers(0, image.shape[0] - self.crop_size + 1))
        left = int(rng.integers(0, image.shape[1] - self.crop_size + 1))
        window = (slice(top, top + self.crop_size), slice(left, left + self.crop_size))
        return image[window], [label[window] for label in labels], valid[window]


class ScribbleDataset(Dataset):
    """Training samples: image, scribble, pseudo-label and the two DPM distance maps.

    Parameters
    ----------
    data : path
        A ``scribblesim build`` output (or any folder with the same layout).
    split : str
        Split file name under ``ImageSets/SegmentationAug``.
    scribbles : str
        Scribble folder under ``data`` (e.g. ``coco2014_train_scribble_r1``).
    pseudo : path or None
        Folder of pseudo-label PNGs (255 = uncertain); ``None`` uses no pseudo-labels.
    augment : Augment
    lambda_s, lambda_c : float
        Scopes of the distance maps (Eqs. 15, 17).
    seed : int
        Augmentation randomness comes from (seed, epoch, index): runs are reproducible and
        resume exactly.
    """

    def __init__(self, data: Path, split: str, scribbles: str, pseudo: Path | None, augment: Augment,
                 lambda_s: float, lambda_c: float, seed: int = 0) -> None:
        self.data, self.scribbles, self.pseudo = Path(data), Path(data) / scribbles, pseudo
        if not self.scribbles.is_dir():
            raise DataError(f"{self.scribbles}: scribble folder not found")
        if pseudo is not None and not Path(pseudo).is_dir():
            raise DataError(f"{pseudo}: pseudo-label folder not found")
        self.ids = read_split(data, split)
        self.augment, self.lambda_s, self.lambda_c, self.seed = augment, lambda_s, lambda_c, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        name = self.ids[index]
        image = read_image(find_image(self.data, name))
        scribble = read_label_map(self.scribbles / f"{name}.png")
        pseudo = read_label_map(Path(self.pseudo) / f"{name}.png") if self.pseudo else np.full_like(scribble, IGNORE)
        if scribble.shape != image.shape[:2] or pseudo.shape != image.shape[:2]:
            raise DataError(f"{self.scribbles / name}.png: label size {scribble.shape} differs from the image {image.shape[:2]}")
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image, (scribble, pseudo), valid = self.augment(image, [scribble, pseudo], rng)
        d_s = scribble_distance_map(scribble, self.lambda_s) * valid
        d_c = pseudo_boundary_distance_map(pseudo, self.lambda_c) * valid
        return {
            "image": normalise(image),
            "scribble": torch.from_numpy(scribble.astype(np.int64)),
            "pseudo": torch.from_numpy(pseudo.astype(np.int64)),
            "d_s": torch.from_numpy(d_s.astype(np.float32)),
            "d_c": torch.from_numpy(d_c.astype(np.float32)),
        }

"""Stage-2 data: images, scribbles, pseudo-labels and DPM maps from a ``scribblesim build`` folder.

As the authors train (their ``utils.py`` and ``transform_exten.py``), the DPM distance maps
are made from the full-resolution scribble and pseudo-label, then every array goes through
one random geometry: scale 0.5-2, rotation by up to 10 degrees, horizontal flip, and a
crop padded around the image. The image is resized bilinearly, padded with the ImageNet
mean and sometimes blurred; labels and maps are resized and rotated nearest-neighbour,
labels padded with 255. The maps are made on the fly, never stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from scribblesim.engine.result import UNLABELLED as IGNORE
from scribblesim.sets.scribble_set import read_label_map

from ..errors import DataError
from .batches import Stage2Batch
from .distance import pseudo_boundary_distance_map, scribble_distance_map
from .layout import IMAGENET_MEAN, find_image, normalise, read_image, read_split

#: The authors rotate half of the samples and blur half of them (their RandRotate and
#: RandomGaussianBlur, p = 0.5), with a 5 x 5 Gaussian whose sigma OpenCV derives from the
#: kernel size (sigma 0 -> 1.1).
ROTATE_PROBABILITY = 0.5
BLUR_PROBABILITY = 0.5
BLUR_KERNEL = 5
#: Image padding: the ImageNet mean in 0-255 RGB, so that it normalises to 0.
MEAN_FILL = tuple(int(v) for v in (IMAGENET_MEAN * 255).round())


@dataclass(frozen=True)
class Draw:
    """One sample's random geometry, applied alike to the image and every label and map.

    ``size`` is (height, width) after scaling, ``angle`` degrees counter-clockwise about
    the centre (0: not rotated), ``offset`` the crop's top-left corner in the padded image.
    """

    size: tuple[int, int]
    angle: float
    blur: bool
    flip: bool
    offset: tuple[int, int]


def scaled_size(shape: tuple[int, ...], scale: float) -> tuple[int, int]:
    """(height, width) of an image of ``shape`` resized by ``scale`` (at least 1 x 1)."""
    return max(1, round(shape[0] * scale)), max(1, round(shape[1] * scale))


def rotate(array: np.ndarray, angle: float, nearest: bool, fill: float | tuple[int, ...]) -> np.ndarray:
    """``array`` rotated by ``angle`` degrees about its centre, same size, corners filled with ``fill``."""
    height, width = array.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
    return cv2.warpAffine(
        array,
        matrix,
        (width, height),
        flags=cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )


def pad_around(array: np.ndarray, size: int, fill: float | tuple[int, ...]) -> np.ndarray:
    """Pad ``array`` to at least ``size`` x ``size``, half of the padding on each side (as the authors' Crop)."""
    height, width = array.shape[:2]
    rows, cols = max(0, size - height), max(0, size - width)
    if not rows and not cols:
        return array
    return cv2.copyMakeBorder(
        array, rows // 2, rows - rows // 2, cols // 2, cols - cols // 2, cv2.BORDER_CONSTANT, value=fill
    )


def apply_draw(
    array: np.ndarray, draw: Draw, crop_size: int, *, nearest: bool, fill: float | tuple[int, ...], blur: bool = False
) -> np.ndarray:
    """Scale, rotate, (blur), flip, pad and crop ``array`` as ``draw`` says.

    ``nearest`` resamples label maps and distance maps without mixing values; ``fill`` is
    what rotation corners and padding get; ``blur`` is for the image only.
    """
    interpolation = cv2.INTER_NEAREST if nearest else cv2.INTER_LINEAR
    array = cv2.resize(array, draw.size[::-1], interpolation=interpolation)
    if draw.angle:
        array = rotate(array, draw.angle, nearest, fill)
    if blur and draw.blur:
        array = cv2.GaussianBlur(array, (BLUR_KERNEL, BLUR_KERNEL), 0)
    if draw.flip:
        array = cv2.flip(array, 1)
    array = pad_around(array, crop_size, fill)
    top, left = draw.offset
    return array[top : top + crop_size, left : left + crop_size]


@dataclass(frozen=True)
class Augment:
    """The authors' stage-2 training augmentation, drawn from a given generator.

    Random scale in [scale_min, scale_max]; with probability 0.5 a rotation by an angle
    uniform in [-max_angle, max_angle]; with probability 0.5 a 5 x 5 Gaussian blur of the
    image (``blur``); a horizontal flip with probability 0.5; a random ``crop_size`` crop,
    padded around the image when it is smaller. Rotation corners and padding are the mean
    in the image, 255 in labels and ``map_fill`` in the DPM maps (the authors' stored
    maps get 255, i.e. weight 1).
    """

    crop_size: int
    scale_min: float = 0.5
    scale_max: float = 2.0
    max_angle: float = 10.0
    blur: bool = True
    map_fill: float = 1.0

    def draw(self, shape: tuple[int, ...], rng: np.random.Generator) -> Draw:
        """One random geometry for an image of ``shape``.

        Every random number is drawn whatever the settings, so that turning rotation or
        blur off leaves the scale, flip and crop of each sample as they were.
        """
        scale = rng.uniform(self.scale_min, self.scale_max)
        rotated = rng.random() < ROTATE_PROBABILITY
        angle = rng.uniform(-1.0, 1.0) * self.max_angle
        blurred = rng.random() < BLUR_PROBABILITY
        flip = bool(rng.random() < 0.5)
        size = scaled_size(shape, scale)
        top = int(rng.integers(0, max(size[0], self.crop_size) - self.crop_size + 1))
        left = int(rng.integers(0, max(size[1], self.crop_size) - self.crop_size + 1))
        return Draw(
            size,
            float(angle) if rotated and self.max_angle > 0 else 0.0,
            bool(blurred and self.blur),
            flip,
            (top, left),
        )

    def apply(
        self, image: np.ndarray, labels: list[np.ndarray], maps: list[np.ndarray], draw: Draw
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """``draw`` applied to the image (uint8 HWC), label maps (uint8) and DPM maps (float32)."""
        image = apply_draw(image, draw, self.crop_size, nearest=False, fill=MEAN_FILL, blur=True)
        labels = [apply_draw(label, draw, self.crop_size, nearest=True, fill=IGNORE) for label in labels]
        maps = [apply_draw(m.astype(np.float32), draw, self.crop_size, nearest=True, fill=self.map_fill) for m in maps]
        return image, labels, maps

    def __call__(
        self, image: np.ndarray, labels: list[np.ndarray], maps: list[np.ndarray], rng: np.random.Generator
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """Draw a geometry from ``rng`` and apply it (see :meth:`apply`)."""
        return self.apply(image, labels, maps, self.draw(image.shape, rng))


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

    def __init__(
        self,
        data: Path,
        split: str,
        scribbles: str,
        pseudo: Path | None,
        augment: Augment,
        lambda_s: float,
        lambda_c: float,
        seed: int = 0,
    ) -> None:
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

    def rng(self, index: int) -> np.random.Generator:
        """The generator of sample ``index`` in the current epoch."""
        return np.random.default_rng([self.seed, self.epoch, index])

    def __getitem__(self, index: int) -> Stage2Batch:
        name = self.ids[index]
        image = read_image(find_image(self.data, name))
        scribble = read_label_map(self.scribbles / f"{name}.png")
        pseudo = read_label_map(Path(self.pseudo) / f"{name}.png") if self.pseudo else np.full_like(scribble, IGNORE)
        if scribble.shape != image.shape[:2] or pseudo.shape != image.shape[:2]:
            raise DataError(
                f"{self.scribbles / name}.png: label size {scribble.shape} differs from the image {image.shape[:2]}"
            )
        # Distances in full-resolution pixels, to labels the crop may cut away (as the authors' stored maps).
        maps = [scribble_distance_map(scribble, self.lambda_s), pseudo_boundary_distance_map(pseudo, self.lambda_c)]
        image, (scribble, pseudo), (d_s, d_c) = self.augment(image, [scribble, pseudo], maps, self.rng(index))
        return Stage2Batch(
            image=normalise(image),
            scribble=torch.from_numpy(scribble.astype(np.int64)),
            pseudo=torch.from_numpy(pseudo.astype(np.int64)),
            d_s=torch.from_numpy(np.ascontiguousarray(d_s, dtype=np.float32)),
            d_c=torch.from_numpy(np.ascontiguousarray(d_c, dtype=np.float32)),
        )

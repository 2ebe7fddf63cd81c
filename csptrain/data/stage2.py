"""Stage-2 data: images, scribbles, pseudo-labels and DPM maps from a ``scribblesim build`` folder.

As the authors train (their ``utils.py`` and ``transform_exten.py``), the DPM distance maps
are made from the full-resolution scribble and pseudo-label, then every array goes through
one random geometry: scale 0.5-2, rotation by up to 10 degrees, horizontal flip, and a
crop padded around the image. The image is resized bilinearly, padded with the ImageNet
mean and sometimes blurred; labels and maps are resized and rotated nearest-neighbour,
labels padded with IGNORE. The maps are made on the fly, never stored.

:func:`apply_draw` does this to whole arrays; the tests hold training to it. Training
computes only what the crop shows (:meth:`Augment.crop`, :mod:`~csptrain.data.crop_window`):
labels and maps are taken pixel by pixel from a window of the source, by our own
nearest-neighbour arithmetic (the same pixels as OpenCV's but where a coordinate rounds
half-way), the maps computed on that window alone with the same values; the image is
resampled from a window, the same up to rounding.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..errors import DataError
from .batches import Stage2Batch
from .crop_window import crop_sampling, inverse_rotation, placement, rotated_reach, shown_region
from .distance import pseudo_boundary_distance_map, scribble_distance_map
from .geometry import Draw, Window
from .labels import IGNORE, read_labels
from .layout import IMAGENET_MEAN, find_image, normalise, read_image, read_split

#: The authors rotate half of the samples and blur half of them (their RandRotate and
#: RandomGaussianBlur, p = 0.5), with a 5 x 5 Gaussian whose sigma OpenCV derives from the
#: kernel size (sigma 0 -> 1.1).
ROTATE_PROBABILITY = 0.5
BLUR_PROBABILITY = 0.5
BLUR_KERNEL = 5
#: Image padding: the ImageNet mean in 0-255 RGB, so that it normalises to 0.
MEAN_FILL = tuple(int(v) for v in (IMAGENET_MEAN * 255).round())
#: :func:`crop_image` resizes the whole image when the resized image has at most this many
#: times the crop's pixels: OpenCV's separable resize of it all costs less than warping a window.
WHOLE_IMAGE_AREA = 2.0


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


def _resized_part(image: np.ndarray, part: Window, size: tuple[int, int]) -> np.ndarray:
    """``part`` of ``image`` resized bilinearly to ``size``, from the source window it reads.

    ``cv2.resize``'s sampling positions (pixel centres, clamped at the edges: a replicated
    border) as an affine warp of that window, its border replicated where it meets the
    image's. (OpenCV's fast warp is the forward one with a constant border.)
    """
    scale_y, scale_x = 1.0 / (size[0] / image.shape[0]), 1.0 / (size[1] / image.shape[1])  # as OpenCV
    first_y, first_x = (part.top + 0.5) * scale_y - 0.5, (part.left + 0.5) * scale_x - 0.5
    last_y, last_x = (part.bottom - 0.5) * scale_y - 0.5, (part.right - 0.5) * scale_x - 0.5
    wanted = Window(math.floor(first_y) - 2, math.floor(last_y) + 3, math.floor(first_x) - 2, math.floor(last_x) + 3)
    inside = wanted.grown(0, image.shape)
    source = cv2.copyMakeBorder(
        image[inside.slices],
        inside.top - wanted.top,
        wanted.bottom - inside.bottom,
        inside.left - wanted.left,
        wanted.right - inside.right,
        cv2.BORDER_REPLICATE,
    )
    matrix = np.array(
        [
            [1.0 / scale_x, 0.0, (wanted.left - first_x) / scale_x],
            [0.0, 1.0 / scale_y, (wanted.top - first_y) / scale_y],
        ]
    )
    return cv2.warpAffine(source, matrix, part.shape[::-1], flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def crop_image(image: np.ndarray, draw: Draw, crop_size: int) -> np.ndarray:
    """The image's crop as ``apply_draw(image, draw, crop_size, nearest=False, fill=MEAN_FILL, blur=True)``.

    Unless the resized image is small (:data:`WHOLE_IMAGE_AREA`), only the region the crop
    shows is resized, rotated and blurred (with the few pixels around it that bilinear
    weights and the blur read; at the image's edges the padding and reflection are the whole
    image's). Its values then differ from :func:`apply_draw`'s by rounding, as the resize is
    an affine warp of a window whose weights OpenCV rounds otherwise than its resize's: by at
    most 1 with OpenCV 5 (0.1 on average), a few where 4.10 rounds positions to 1/32 pixel.
    """
    if draw.size[0] * draw.size[1] <= WHOLE_IMAGE_AREA * crop_size**2:
        return apply_draw(image, draw, crop_size, nearest=False, fill=MEAN_FILL, blur=True)
    region = shown_region(draw, crop_size)
    if region is None:
        return np.tile(np.array(MEAN_FILL, dtype=np.uint8), (crop_size, crop_size, 1))
    needed = region.grown(BLUR_KERNEL // 2 if draw.blur else 0, draw.size)
    shown: np.ndarray
    if draw.angle:
        m = inverse_rotation(draw.size, draw.angle)
        scaled = rotated_reach(m, needed, draw.size, 2)  # bilinear reads the next pixel too
        if scaled is None:  # rotated-in corner only
            shown = np.tile(np.array(MEAN_FILL, dtype=np.uint8), (*needed.shape, 1))
        else:
            # the whole image's rotation (forward: source to destination), shifted to these windows
            forward = np.asarray(
                cv2.getRotationMatrix2D((draw.size[1] / 2, draw.size[0] / 2), draw.angle, 1.0), dtype=np.float64
            )
            forward[:, 2] += forward[:, :2] @ np.array([scaled.left, scaled.top]) - np.array([needed.left, needed.top])
            shown = cv2.warpAffine(
                _resized_part(image, scaled, draw.size),
                forward,
                needed.shape[::-1],
                flags=cv2.INTER_LINEAR,
                borderMode=cv2.BORDER_CONSTANT,
                borderValue=MEAN_FILL,
            )
    else:
        shown = _resized_part(image, needed, draw.size)
    if draw.blur:
        shown = cv2.GaussianBlur(shown, (BLUR_KERNEL, BLUR_KERNEL), 0)
    shown = shown[region.within(needed).slices]
    if draw.flip:
        shown = cv2.flip(shown, 1)
    top, left = placement(draw, crop_size, region)
    height, width = shown.shape[:2]
    # (OpenCV's copies: numpy's of 3-byte pixels, flipped or filled, are many times slower)
    return cv2.copyMakeBorder(
        shown, top, crop_size - top - height, left, crop_size - left - width, cv2.BORDER_CONSTANT, value=MEAN_FILL
    )


@dataclass(frozen=True)
class Augment:
    """The authors' stage-2 training augmentation, drawn from a given generator.

    Random scale in [scale_min, scale_max]; with probability 0.5 a rotation by an angle
    uniform in [-max_angle, max_angle]; with probability 0.5 a 5 x 5 Gaussian blur of the
    image (``blur``); a horizontal flip with probability 0.5; a random ``crop_size`` crop,
    padded around the image when it is smaller. Rotation corners and padding are the mean
    in the image, IGNORE in labels and ``map_fill`` in the DPM maps (the authors' stored
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
        """``draw`` applied to the image (uint8 HWC), label maps (uint16) and DPM maps (float32)."""
        image = apply_draw(image, draw, self.crop_size, nearest=False, fill=MEAN_FILL, blur=True)
        labels = [apply_draw(label, draw, self.crop_size, nearest=True, fill=IGNORE) for label in labels]
        maps = [apply_draw(m.astype(np.float32), draw, self.crop_size, nearest=True, fill=self.map_fill) for m in maps]
        return image, labels, maps

    def crop(
        self,
        image: np.ndarray,
        labels: list[np.ndarray],
        maps: Sequence[Callable[[Window | None], np.ndarray]],
        draw: Draw,
    ) -> tuple[np.ndarray, list[np.ndarray], list[np.ndarray]]:
        """:meth:`apply` computing only what the crop shows.

        Each of ``maps`` makes a DPM map over a window of the source (None: all of it); it is
        asked only for the window the crop samples (see :func:`~csptrain.data.crop_window.crop_sampling`).
        Labels and maps take the same pixels as :meth:`apply`'s except where a rotated
        coordinate rounds half-way (:func:`~csptrain.data.crop_window.rounding_ties`), the
        image its values up to rounding.
        """
        image = crop_image(image, draw, self.crop_size)
        sampling = crop_sampling(draw, labels[0].shape, self.crop_size)
        if sampling.window is None:  # padding and rotated-in corners only
            filled = [np.full(sampling.index.shape, self.map_fill, dtype=np.float32) for _ in maps]
            return image, [sampling.take(label, IGNORE) for label in labels], filled
        return (
            image,
            [sampling.take(label, IGNORE) for label in labels],
            [sampling.take(make(sampling.window), self.map_fill) for make in maps],
        )

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
        Folder of pseudo-label PNGs (255 = uncertain, 16-bit: 65535); ``None`` uses no pseudo-labels.
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
        scribble = read_labels(self.scribbles / f"{name}.png")
        pseudo = read_labels(Path(self.pseudo) / f"{name}.png") if self.pseudo else np.full_like(scribble, IGNORE)
        if scribble.shape != image.shape[:2] or pseudo.shape != image.shape[:2]:
            raise DataError(
                f"{self.scribbles / name}.png: label size {scribble.shape} differs from the image {image.shape[:2]}"
            )
        draw = self.augment.draw(image.shape, self.rng(index))
        # Distances in full-resolution pixels, to labels the crop may cut away (as the authors'
        # stored maps), computed only around the window the crop samples.
        maps = [
            partial(scribble_distance_map, scribble, self.lambda_s),
            partial(pseudo_boundary_distance_map, pseudo, self.lambda_c),
        ]
        image, (scribble, pseudo), (d_s, d_c) = self.augment.crop(image, [scribble, pseudo], maps, draw)
        return Stage2Batch(
            image=normalise(image),
            scribble=torch.from_numpy(scribble.astype(np.int64)),
            pseudo=torch.from_numpy(pseudo.astype(np.int64)),
            d_s=torch.from_numpy(np.ascontiguousarray(d_s, dtype=np.float32)),
            d_c=torch.from_numpy(np.ascontiguousarray(d_c, dtype=np.float32)),
        )

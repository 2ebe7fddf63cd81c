"""What every dataset adapter produces."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import DatasetError


@dataclass(frozen=True)
class LoadedSample:
    """One image's decoded annotations, ready for :func:`scribblesim.simulate`.

    Attributes
    ----------
    name : str
        File stem used for output files (e.g. ``000000000030``).
    image_id : int or str
        Key of the image's random streams.
    masks : ndarray of bool, shape (N, H, W)
        Instances to scribble, in painting order.
    classes : ndarray of int, shape (N,)
        Contiguous class id of each instance.
    ignore : ndarray of bool, shape (H, W)
        Pixels that get no scribble and are not background (e.g. crowd regions).
    semantic : ndarray of uint8, shape (H, W)
        Dense ground truth, 255 = ignore.
    image_path : Path or None
        The image file, if any.
    empty_reasons : dict of int to str
        Why a mask is empty, by its index in ``masks`` (e.g. ``"polygon lies outside the
        image"``); a build adds it to the object's ``"empty mask"`` skip reason.
    pixels : ndarray of uint8, shape (H, W), optional
        The image itself, for a dataset without image files (slices of a volume); a build
        writes it as an 8-bit grayscale PNG.
    human : ndarray of uint8, shape (H, W), optional
        Human scribbles the dataset carries (255 = unlabelled, 0 = background, k = class
        k); a build writes them as the set ``human``.
    """

    name: str
    image_id: int | str
    masks: np.ndarray
    classes: np.ndarray
    ignore: np.ndarray
    semantic: np.ndarray
    image_path: Path | None
    empty_reasons: dict[int, str] = field(default_factory=dict)
    pixels: np.ndarray | None = None
    human: np.ndarray | None = None


@dataclass(frozen=True)
class DatasetSplit:
    """What a build reads of one split of a dataset.

    Attributes
    ----------
    samples : sequence
        One sample per image, each with ``name``, ``image_path`` and ``load()``.
    class_names : sequence of str
        Names by contiguous class id (index 0 is background).
    prefix : str
        Default name prefix of the scribble folders (e.g. ``coco2017_train``).
    notes : dict, optional
        More entries for the split's record in ``meta.json`` (e.g. COCO annotations that
        name no image).
    """

    samples: Sequence
    class_names: Sequence[str]
    prefix: str
    notes: dict | None = None


def read_json(path: Path, missing: str, object_hook: Callable[[dict], object] | None = None) -> object:
    """Parse a JSON file; :class:`DatasetError` says ``"{path}: {missing}"`` if it is absent.

    ``object_hook`` (as :func:`json.load` takes it) may make each object compact as soon as
    it is parsed, so that a large file never holds all of its parsed form at once.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle, object_hook=object_hook)
    except FileNotFoundError:
        raise DatasetError(f"{path}: {missing}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: not valid JSON ({error})") from None


#: The modes in which Pillow opens a 16-bit grayscale PNG.
SIXTEEN_BIT_MODES = ("I;16", "I;16B", "I")


def read_png(path: Path, modes: tuple[str, ...] | None = None) -> np.ndarray:
    """Read a label or id PNG as an integer array; :class:`DatasetError` names the file if unusable.

    A 3-channel PNG whose channels are all equal (what ``cv2.imwrite`` makes of a label map,
    e.g. the reference simulator's scribbles) reads as its single channel; one whose
    channels differ is refused. ``modes`` restricts the other accepted PIL image modes
    (e.g. ``("P", "L")`` for label maps); a 16-bit grayscale PNG reads as uint16.
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            if image.mode == "RGB":
                array = np.asarray(image)
                if not (np.array_equal(array[..., 0], array[..., 1]) and np.array_equal(array[..., 0], array[..., 2])):
                    raise DatasetError(
                        f"{path}: 3-channel PNG whose channels differ; expected a single-channel "
                        "label PNG (or 3 equal channels)"
                    )
                return array[..., 0].copy()
            if modes is not None and image.mode not in modes:
                raise DatasetError(
                    f"{path}: expected a single-channel ({' or '.join(modes)}) label PNG "
                    f"or 3 equal channels, got mode {image.mode}"
                )
            if image.mode in SIXTEEN_BIT_MODES:  # Pillow reads 16-bit grayscale as I;16 (older: I)
                return np.asarray(image).astype(np.uint16)
            return np.asarray(image)
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DatasetError(f"{path}: unreadable PNG ({error})") from None


def class_components(semantic: np.ndarray, skip: Sequence[int] = (0, 255)) -> tuple[np.ndarray, np.ndarray]:
    """The 8-connected components of each class of a dense class map, as instances.

    Parameters
    ----------
    semantic : ndarray of int, shape (H, W)
        Class ids.
    skip : sequence of int
        Values that are no class (background, ignore).

    Returns
    -------
    masks : ndarray of bool, shape (N, H, W)
        One mask per component, by class id, then in scan order of their first pixel.
    classes : ndarray of int64, shape (N,)
        The class of each.
    """
    from scipy import ndimage

    masks, classes = [], []
    for label in np.unique(semantic):
        if label in skip:
            continue
        pieces, count = ndimage.label(semantic == label, structure=np.ones((3, 3), dtype=bool))
        for piece in range(1, count + 1):
            masks.append(pieces == piece)
            classes.append(int(label))
    stack = np.stack(masks) if masks else np.zeros((0, *semantic.shape), dtype=bool)
    return stack, np.array(classes, dtype=np.int64)


def masks_from_ids(ids: np.ndarray, values: list[int]) -> np.ndarray:
    """(N, H, W) boolean masks ``ids == value`` for each value."""
    if not values:
        return np.zeros((0, *ids.shape), dtype=bool)
    return ids[None, :, :] == np.asarray(values)[:, None, None]

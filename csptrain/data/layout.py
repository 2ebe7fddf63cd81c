"""Reading a ``scribblesim build`` folder: split lists, images, classes, scribble folders."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from scribblesim.sets.layout import Layout, read_meta, set_name, split_list_path

from ..errors import DataError

IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def read_split(data: Path, split: str) -> list[str]:
    """Image ids of ``split``'s list under ``data/ImageSets/SegmentationAug``.

    ``split`` is the real split name (``train2017``) or the list's role name (``train``,
    ``val``); see :func:`scribblesim.sets.layout.split_list_path`.
    """
    listing = split_list_path(data, split)
    ids = [line.split()[0] for line in listing.read_text().splitlines() if line.strip()]
    if not ids:
        raise DataError(f"{listing}: no image ids")
    return ids


def find_image(data: Path, name: str) -> Path:
    """``data/JPEGImages/{name}`` with any usual image extension."""
    for suffix in _IMAGE_SUFFIXES:
        path = Layout(data).image(name, suffix)
        if path.exists():
            return path
    raise DataError(f"{Layout(data).image(name, '.jpg')}: image not found")


#: A PNG starts with its signature and, when complete, ends with its IEND chunk.
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def read_image(path: Path) -> np.ndarray:
    """An image file as uint8 HWC RGB, as stored (EXIF orientation ignored, as Pillow does).

    Complete PNGs are decoded by OpenCV, the faster decoder, since Cityscapes frames are read
    on the training's critical path.
    Everything else goes through Pillow, which refuses truncated files where OpenCV returns a
    truncated JPEG's decodable part and libpng prints to stderr.
    """
    if Path(path).suffix.lower() == ".png":
        decoded = _complete_png(Path(path))
        if decoded is not None:
            return decoded
    try:
        with Image.open(path) as image:
            return np.asarray(image if image.mode == "RGB" else image.convert("RGB"))
    except OSError as error:
        raise DataError(f"{path}: unreadable image ({error})") from None


def _complete_png(path: Path) -> np.ndarray | None:
    """The PNG at ``path`` decoded by OpenCV as RGB, or None unless it is a complete, decodable PNG."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise DataError(f"{path}: unreadable image ({error})") from None
    if not (data.startswith(_PNG_SIGNATURE) and data.endswith(_PNG_END)):
        return None
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    return None if decoded is None else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


#: (x / 255 - mean) / std as one multiply-add per value.
_SCALE = torch.from_numpy(1.0 / (255.0 * IMAGENET_STD))[:, None, None]
_OFFSET = torch.from_numpy(-IMAGENET_MEAN / IMAGENET_STD)[:, None, None]


def normalise(image: np.ndarray) -> torch.Tensor:
    """uint8 HWC RGB -> float CHW with ImageNet normalisation (one copy, then in place)."""
    chw = np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32)
    return torch.from_numpy(chw).mul_(_SCALE).add_(_OFFSET)


def resize_array(array: np.ndarray, size: tuple[int, int], nearest: bool) -> np.ndarray:
    """Resize an image (bilinear) or a label map (``nearest``) to ``size`` = (height, width)."""
    image = Image.fromarray(array)
    return np.asarray(image.resize(size[::-1], Image.Resampling.NEAREST if nearest else Image.Resampling.BILINEAR))


def denormalise(images: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`normalise` for a (B, 3, H, W) batch: RGB in [0, 1]."""
    mean = torch.as_tensor(IMAGENET_MEAN, device=images.device)[:, None, None]
    std = torch.as_tensor(IMAGENET_STD, device=images.device)[:, None, None]
    return images.float() * std + mean


def class_names_of(data: Path) -> list[str]:
    """The class list of the build's ``meta.json`` (index = class id, 0 = background)."""
    names = read_meta(data).get("classes")
    if not isinstance(names, list) or not names:
        raise DataError(f"{Layout(data).meta}: 'classes' must be a non-empty list")
    return [str(name) for name in names]


def scribble_folder(data: Path, split: str, seed: int | str) -> str:
    """Name of the folder ``{prefix}_scribble_{set}`` under ``data`` that covers ``split``.

    ``seed`` is a simulated annotator's seed (folder ``..._scribble_r{seed}``) or a set tag
    such as ``human`` (``..._scribble_human``), spelt as :func:`scribblesim.sets.layout.set_name`.
    A build output may hold several splits (one prefix each); the folder is the one that
    has a scribble for every image of the split.
    """
    ids = read_split(data, split)
    suffix = f"_scribble_{set_name(seed)}"
    candidates = [p for p in Layout(data).scribble_dirs() if p.name.endswith(suffix)]
    covering = [p.name for p in candidates if all((p / f"{name}.png").is_file() for name in ids)]
    if len(covering) == 1:
        return covering[0]
    if not covering:
        found = ", ".join(p.name for p in candidates) or "none"
        raise DataError(f"{Path(data)}: no scribble folder *{suffix} covers split {split!r} (found: {found})")
    raise DataError(
        f"{Path(data)}: several scribble folders cover split {split!r} ({', '.join(covering)}); "
        "pass the folder name explicitly"
    )

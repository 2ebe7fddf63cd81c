"""Atomic file output: a killed run never leaves a partial file under a final name."""

from __future__ import annotations

import io
import json
import os
import shutil
import zlib
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from ..engine.result import MAX_8BIT_CLASS, as_label_dtype
from ..errors import ConfigError
from .palette import PALETTE

TEMP_SUFFIX = ".tmp"


def _temp_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")


def write_bytes_atomic(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder.

    The rename makes the write atomic for any interruption of the process. ``durable``
    also flushes the data to disk first (an fsync, milliseconds per file), so that it
    survives a power loss; per-image outputs that a rerun can recompute skip it.
    """
    temp = _temp_path(path)
    with open(temp, "wb") as handle:
        handle.write(data)
        if durable:
            handle.flush()
            os.fsync(handle.fileno())
    os.replace(temp, path)


def write_if_changed(path: Path, data: bytes) -> bool:
    """Write atomically unless ``path`` already holds exactly ``data``; return whether it wrote."""
    if path.is_file() and path.stat().st_size == len(data) and path.read_bytes() == data:
        return False
    write_bytes_atomic(path, data)
    return True


def json_bytes(value) -> bytes:
    """Canonical JSON encoding (sorted keys, one trailing newline)."""
    return (json.dumps(value, sort_keys=True, indent=1) + "\n").encode()


#: Label PNG modes: plain 8-bit grayscale (class ids; what cv2, PIL, imageio and mmcv read
#: alike, as VOC's SegmentationClassAug), single-channel palette (class ids + colours), or
#: 16-bit grayscale for class ids above 254 (65535 unlabelled).
LABEL_PNG_MODES = ("gray", "palette", "gray16")
DEFAULT_LABEL_PNG = "gray"
_GRAY_LABEL_PNG = [
    cv2.IMWRITE_PNG_FILTER,
    cv2.IMWRITE_PNG_FILTER_NONE,
    cv2.IMWRITE_PNG_STRATEGY,
    cv2.IMWRITE_PNG_STRATEGY_RLE,
]


def default_label_png(class_count: int) -> str:
    """The label PNG mode a new output of ``class_count`` classes (background included) gets:
    gray, or gray16 where a class id is above 254."""
    return "gray16" if class_count - 1 > MAX_8BIT_CLASS else DEFAULT_LABEL_PNG


def label_png_bytes(label_map: np.ndarray, mode: str = DEFAULT_LABEL_PNG) -> bytes:
    """A single-channel PNG of a label map: 8-bit grayscale (``"gray"``), ``"palette"``, or
    16-bit grayscale (``"gray16"``; a uint8 map's 255 becomes 65535).

    All hold the class ids as pixel values; only a palette PNG read by a colour-converting
    reader (``cv2.imread(path, cv2.IMREAD_GRAYSCALE)``) gives luminance instead of ids. A
    map with class ids above 254 goes only into ``"gray16"`` (ValueError otherwise).
    """
    if mode not in LABEL_PNG_MODES:
        raise ConfigError(f"label PNG mode must be one of {LABEL_PNG_MODES}, got {mode!r}")
    if mode == "palette":
        return _palette_png_bytes(label_map)
    # Unfiltered rows, run-length zlib: label maps are long runs, so this is as small as
    # Pillow's filtered PNG (which cannot turn filtering off), and faster.
    pixels = as_label_dtype(label_map, np.uint16 if mode == "gray16" else np.uint8)
    encoded, data = cv2.imencode(".png", np.ascontiguousarray(pixels), _GRAY_LABEL_PNG)
    if not encoded:  # pragma: no cover - OpenCV encodes any 2-D uint8 or uint16 array
        raise RuntimeError("OpenCV could not encode a label map as PNG")
    return data.tobytes()


def _palette_png_bytes(label_map: np.ndarray) -> bytes:
    image = Image.fromarray(as_label_dtype(label_map, np.uint8), mode="P")
    image.putpalette(PALETTE.ravel().tolist())
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False, compress_type=zlib.Z_RLE)
    return buffer.getvalue()


def image_png_bytes(pixels: np.ndarray) -> bytes:
    """An 8-bit single-channel (grayscale) PNG of an image, e.g. a slice of a volume.

    Deterministic: the same pixels give the same bytes in any process.
    """
    image = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8))  # 2-D uint8: mode "L"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()


def relative_path(path: Path, start: Path) -> str:
    """``path`` relative to the folder ``start`` (folders resolved), or absolute where it cannot be.

    Only folders are resolved, so a path to a symlinked file stays a path to that link.
    """
    path = Path(os.path.realpath(Path(path).parent)) / Path(path).name
    try:
        return os.path.relpath(path, os.path.realpath(start))
    except ValueError:  # another drive (Windows)
        return str(path)


def link_or_copy_atomic(source: Path, target: Path, copy: bool) -> None:
    """Make ``target`` a relative symlink to (or a copy of) ``source``, atomically.

    A relative link keeps working when the output and the dataset move together.
    """
    temp = _temp_path(target)
    if copy:
        shutil.copyfile(source, temp)
    else:
        os.symlink(relative_path(source, target.parent), temp)
    os.replace(temp, target)


def remove_stale_temporaries(folder: Path) -> None:
    """Delete temporary files a killed run left in ``folder``."""
    if folder.is_dir():
        for temp in folder.glob(f".*{TEMP_SUFFIX}"):
            temp.unlink(missing_ok=True)

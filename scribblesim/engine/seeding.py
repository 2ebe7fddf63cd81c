"""Independent random streams per (seed, image, object), never the global RNG."""

from __future__ import annotations

import hashlib

import numpy as np

from ..errors import ConfigError

#: Stream tags keep the streams apart. Objects draw their strokes from
#: ``stream(seed, image, OBJECT_STREAM, index)``; skeletons are properties of the masks,
#: the same for every annotator, and break their ties with seed-independent streams.
OBJECT_STREAM = 0
OBJECT_SKELETON_STREAM = 2
BACKGROUND_SKELETON_STREAM = 3


def shared_stream(image_id: int | str, tag: int, index: int) -> np.random.Generator:
    """Return a generator that depends on the image but not on the seed."""
    return np.random.default_rng([image_key(image_id), tag, index])


def image_key(image_id: int | str) -> int:
    """Map an image id to a non-negative integer usable as seed entropy.

    Integers map to themselves; strings (e.g. Cityscapes ids) to a stable 64-bit hash.
    """
    if isinstance(image_id, (int, np.integer)) and not isinstance(image_id, bool):
        if image_id < 0:
            raise ConfigError(f"image_id must be >= 0, got {image_id}")
        return int(image_id)
    if isinstance(image_id, str):
        return int.from_bytes(hashlib.sha256(image_id.encode()).digest()[:8], "little")
    raise ConfigError(f"image_id must be a non-negative int or a str, got {image_id!r}")


def stream(seed: int, image_id: int | str, tag: int, index: int) -> np.random.Generator:
    """Return the generator of one annotator (``seed``) for one object of one image."""
    return np.random.default_rng([int(seed), image_key(image_id), tag, index])

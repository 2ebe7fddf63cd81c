"""Validation of the masks and class ids given to :func:`scribblesim.simulate`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..errors import ConfigError

#: Class ids of objects; 0 is background and the largest value of a label map's dtype
#: unlabelled (255 for ids up to 254, 65535 above).
MIN_CLASS, MAX_CLASS = 1, 65534


def as_mask_stack(masks: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """Return ``masks`` as an (N, H, W) boolean array.

    Accepts an (N, H, W) array or a sequence of (H, W) arrays of booleans or numbers;
    any non-zero value is foreground (0/1 and 0/255 masks alike). Raises :class:`ConfigError`
    for anything else, including NaN or infinite values.
    """
    if isinstance(masks, np.ndarray):
        stack = masks
    else:
        if len(masks) == 0:
            raise ConfigError("masks is empty, so the image size is unknown; pass an array of shape (0, H, W)")
        shapes = {np.shape(m) for m in masks}
        if len(shapes) != 1:
            raise ConfigError(f"all masks must have the same shape, got {sorted(shapes)}")
        try:
            stack = np.stack([np.asarray(m) for m in masks])
        except (TypeError, ValueError) as error:
            raise ConfigError(f"masks could not be read as arrays: {error}") from None
    if stack.ndim != 3:
        raise ConfigError(f"masks must have shape (N, H, W), got {stack.shape}")
    if stack.shape[1] == 0 or stack.shape[2] == 0:
        raise ConfigError(f"masks must have a non-empty image size, got {stack.shape[1:]}")
    if stack.dtype == bool:
        return stack
    if stack.dtype.kind not in "iuf":
        raise ConfigError(f"masks must be boolean or numeric, got dtype {stack.dtype}")
    if stack.dtype.kind == "f" and not np.isfinite(stack).all():
        raise ConfigError("masks must not hold NaN or infinite values")
    return stack != 0


def as_class_ids(classes: Sequence[int] | np.ndarray, count: int) -> np.ndarray:
    """Return ``classes`` as an int array of length ``count`` with values in 1..65534."""
    ids = np.asarray(classes)
    if ids.ndim != 1 or len(ids) != count:
        raise ConfigError(f"classes must hold one id per mask ({count}), got shape {ids.shape}")
    if count == 0:
        return ids.astype(np.int64)
    if ids.dtype.kind not in "iu" and (
        ids.dtype.kind != "f" or not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids))
    ):
        raise ConfigError(f"classes must be integers, got {ids.tolist()}")
    ids = ids.astype(np.int64)
    bad = ids[(ids < MIN_CLASS) | (ids > MAX_CLASS)]
    if bad.size:
        raise ConfigError(
            f"class ids must lie in {MIN_CLASS}..{MAX_CLASS} (0 is background, 65535 unlabelled), got {bad.tolist()}"
        )
    return ids

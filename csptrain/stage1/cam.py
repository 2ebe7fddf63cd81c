"""From CAMs to labels (ToCo's ``utils/camutils.py``): multi-scale CAM, thresholds, PAR, crops.

Boxes are (top, bottom, left, right) of the valid image inside a padded crop, as ToCo's
``img_box``; outside them every label is IGNORE.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.nn import functional as F

from ..data.labels import IGNORE
from .par import PAR


@torch.no_grad()
def whole_patches(length: float, patch: int) -> int:
    """``length`` rounded to a multiple of ``patch`` (at least one patch): a ViT's input side."""
    return max(patch, round(length / patch) * patch)


def at_scale(images: torch.Tensor, scale: float, patch: int) -> torch.Tensor:
    """``images`` (B, 3, H, W) resized by ``scale``, each side rounded to whole patches (bilinear)."""
    height, width = images.shape[-2:]
    size = (whole_patches(scale * height, patch), whole_patches(scale * width, patch))
    if size == (height, width):
        return images
    return F.interpolate(images, size=size, mode="bilinear", align_corners=False)


def multi_scale_cams(
    model, images: torch.Tensor, scales: Sequence[float] = (1.0, 0.5, 1.5)
) -> tuple[torch.Tensor, torch.Tensor]:
    """Final and aux CAMs (B, C-1, H, W) in [0, 1): flip-maxed, ReLU, summed over scales, normalised.

    ``model.cams(images)`` gives the raw maps on the token grid. Each scale's size is
    rounded to whole patches (``model.patch_size``; a 448 crop's scales need no rounding).
    Each class map is shifted to a minimum of 0 and divided by its maximum + 1e-5.
    """
    batch, _, height, width = images.shape
    patch = getattr(model, "patch_size", 1)
    totals: list[torch.Tensor] | None = None
    for scale in scales:
        scaled = at_scale(images, scale, patch)
        maps = []
        for cam in model.cams(torch.cat([scaled, scaled.flip(-1)])):
            cam = F.interpolate(cam.float(), size=(height, width), mode="bilinear", align_corners=False)
            maps.append(F.relu(torch.maximum(cam[:batch], cam[batch:].flip(-1))))
        totals = maps if totals is None else [t + m for t, m in zip(totals, maps)]
    normalised = []
    assert totals is not None, "at least one scale"
    for cam in totals:
        cam = cam - cam.amin(dim=(-2, -1), keepdim=True)
        normalised.append(cam / (cam.amax(dim=(-2, -1), keepdim=True) + 1e-5))
    return normalised[0], normalised[1]


def box_mask(boxes: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """(B, H, W) bool: inside each (top, bottom, left, right) box."""
    rows = torch.arange(size[0], device=boxes.device)
    cols = torch.arange(size[1], device=boxes.device)
    inside_rows = (rows[None] >= boxes[:, 0, None]) & (rows[None] < boxes[:, 1, None])
    inside_cols = (cols[None] >= boxes[:, 2, None]) & (cols[None] < boxes[:, 3, None])
    return inside_rows[:, :, None] & inside_cols[:, None, :]


def scale_boxes(boxes: torch.Tensor, source: int, target: int) -> torch.Tensor:
    """Boxes of a ``source``-pixel crop on a ``target``-cell grid, covering every touched cell.

    ToCo slices its 28 x 28 token labels with 448-pixel boxes, which marks everything
    ignored whenever the padding offset reaches 28; we map the box to the grid instead.
    """
    start = torch.div(boxes[:, [0, 2]] * target, source, rounding_mode="floor")
    end = torch.div(boxes[:, [1, 3]] * target + source - 1, source, rounding_mode="floor")
    return torch.stack([start[:, 0], end[:, 0], start[:, 1], end[:, 1]], dim=1)


def masked_cams(cams: torch.Tensor, image_labels: torch.Tensor) -> torch.Tensor:
    """CAMs of the classes absent from the image zeroed."""
    return cams * image_labels[:, :, None, None].to(cams.dtype)


def cams_to_labels(
    cams: torch.Tensor, image_labels: torch.Tensor, high: float, low: float, boxes: torch.Tensor | None = None
) -> torch.Tensor:
    """Two-threshold labels (B, H, W): class k + 1 where its CAM wins and exceeds ``high``,
    IGNORE where the best CAM is in (low, high], 0 where it is at most ``low``; IGNORE outside boxes."""
    value, index = masked_cams(cams, image_labels).max(dim=1)
    labels = index + 1
    labels[value <= high] = IGNORE
    labels[value <= low] = 0
    if boxes is not None:
        labels[~box_mask(boxes, labels.shape[-2:])] = IGNORE
    return labels


def roi_mask(cams: torch.Tensor, image_labels: torch.Tensor, high: float, low: float) -> torch.Tensor:
    """0 (background: best CAM <= low), 2 (confident: >= high) or 1 (uncertain), per pixel."""
    value = masked_cams(cams, image_labels).amax(dim=1)
    roi = torch.ones_like(value, dtype=torch.int64)
    roi[value <= low] = 0
    roi[value >= high] = 2
    return roi


def local_crops(
    images: torch.Tensor, roi: torch.Tensor, count: int, size: int, generator: torch.Generator
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``count`` crops (B, 3, size, size) centred on non-confident pixels, and CTC flags (B, count + 2).

    Centres keep ``size // 2`` from the border; where too few are non-confident any centre
    is allowed. A crop whose mean roi value is at most 0.2 is a negative (flag 0); the two
    global views are always positive.
    """
    batch, _, height, width = images.shape
    margin = size // 2
    crops = images.new_zeros(count, batch, images.shape[1], size, size)
    flags = torch.ones(batch, count + 2, device=images.device)
    for b in range(batch):
        inner = roi[b, margin : height - margin, margin : width - margin]
        candidates = (inner <= 1).nonzero()
        if candidates.shape[0] < count:
            candidates = (inner >= 0).nonzero()
        order = torch.randperm(candidates.shape[0], generator=generator)[:count].to(candidates.device)
        for k, (top, left) in enumerate(candidates[order].tolist()):
            crops[k, b] = images[b, :, top : top + size, left : left + size]
            if roi[b, top : top + size, left : left + size].sum() / (size * size) <= 0.2:
                flags[b, k + 2] = 0
    return list(crops), flags


@torch.no_grad()
def refine_labels(
    par: PAR,
    images: torch.Tensor,
    cams: torch.Tensor,
    image_labels: torch.Tensor,
    high: float,
    low: float,
    boxes: torch.Tensor,
    down_scale: int = 2,
) -> torch.Tensor:
    """PAR-refined two-threshold labels (B, H, W) (ToCo's ``refine_cams_with_bkg_v2``).

    For each image, a constant background channel (``high``, then ``low``) joins the CAMs of
    its present classes; at 1/``down_scale`` resolution they are softmaxed, refined by PAR
    on the image (RGB in [0, 1]), upsampled and argmaxed. Foreground comes from the
    ``high`` labelling; 0 where both labellings say background, IGNORE where only ``high`` does.
    Only the image's own classes (and background) can appear.
    """
    batch, _, height, width = images.shape
    small = (height // down_scale, width // down_scale)
    small_images = F.interpolate(images.float(), size=small, mode="bilinear", align_corners=False)
    present = torch.cat([torch.ones_like(image_labels[:, :1]), image_labels], dim=1) > 0
    scores = [
        F.interpolate(
            torch.cat([torch.full_like(cams[:, :1], threshold), cams.float()], 1),
            size=small,
            mode="bilinear",
            align_corners=False,
        )
        for threshold in (high, low)
    ]
    high_labels = torch.empty(batch, height, width, dtype=torch.int64, device=cams.device)
    low_labels = torch.empty_like(high_labels)
    for b in range(batch):
        keys = present[b].nonzero()[:, 0]
        # PAR refines each channel alike with one affinity, so both labellings share a call
        both = torch.cat([scores[0][b : b + 1, keys].softmax(dim=1), scores[1][b : b + 1, keys].softmax(dim=1)], dim=1)
        refined = F.interpolate(
            par(small_images[b : b + 1], both), size=(height, width), mode="bilinear", align_corners=False
        )[0]
        high_labels[b] = keys[refined[: len(keys)].argmax(0)]
        low_labels[b] = keys[refined[len(keys) :].argmax(0)]
    labels = high_labels.clone()
    labels[high_labels == 0] = IGNORE
    labels[(high_labels == 0) & (low_labels == 0)] = 0
    labels[~box_mask(boxes, (height, width))] = IGNORE
    return labels


@torch.no_grad()
def multi_scale_scribble_probabilities(
    model, images: torch.Tensor, scales: Sequence[float] = (1.0, 0.5, 1.5)
) -> torch.Tensor:
    """The scribble head's class probabilities (B, C, H, W), background first: softmax, flip- and scale-averaged.

    Scales are rounded to whole patches as :func:`multi_scale_cams` rounds them.
    """
    batch, _, height, width = images.shape
    patch = getattr(model, "patch_size", 1)
    total = torch.zeros((), device=images.device)
    for scale in scales:
        scaled = at_scale(images, scale, patch)
        logits = model(torch.cat([scaled, scaled.flip(-1)]))["segs"].float()
        probabilities = F.interpolate(logits, size=(height, width), mode="bilinear", align_corners=False).softmax(1)
        total = total + (probabilities[:batch] + probabilities[batch:].flip(-1)) / 2
    return total / len(scales)


@torch.no_grad()
def probabilities_to_labels(
    par: PAR | None,
    images: torch.Tensor,
    probabilities: torch.Tensor,
    image_labels: torch.Tensor,
    threshold: float,
    boxes: torch.Tensor,
    down_scale: int = 2,
) -> torch.Tensor:
    """Labels (B, H, W) from class probabilities (B, C, H, W): the image's own classes only, IGNORE below ``threshold``.

    The probabilities of classes absent from the image (``image_labels``, background
    always present) are dropped and the rest renormalised; with ``par`` they are refined
    on the image (RGB in [0, 1]) at 1/``down_scale`` resolution as :func:`refine_labels`
    refines CAMs. A pixel whose best class has less than ``threshold`` is uncertain (IGNORE),
    as is everything outside ``boxes``.
    """
    height, width = images.shape[-2:]
    present = torch.cat([torch.ones_like(image_labels[:, :1]), image_labels], dim=1) > 0
    kept = probabilities * present[:, :, None, None]
    kept = kept / kept.sum(dim=1, keepdim=True).clamp_min(1e-8)
    if par is not None:
        small = (height // down_scale, width // down_scale)
        small_images = F.interpolate(images.float(), size=small, mode="bilinear", align_corners=False)
        refined = par(small_images, F.interpolate(kept, size=small, mode="bilinear", align_corners=False))
        kept = F.interpolate(refined, size=(height, width), mode="bilinear", align_corners=False)
    value, labels = kept.max(dim=1)
    labels[value < threshold] = IGNORE
    labels[~box_mask(boxes, (height, width))] = IGNORE
    return labels

"""Locate the COCO sample embedded in the package."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

#: Split name of the embedded sample (its images are COCO train2017 images).
COCO_SAMPLE_SPLIT = "train2017"


def coco_sample_root() -> Path:
    """Return the root of the embedded COCO sample.

    The root follows the COCO layout: ``annotations/instances_train2017.json`` and
    ``train2017/*.jpg``.
    """
    return Path(str(files("scribblesim.coco_sample")))

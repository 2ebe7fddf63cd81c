"""What the command line offers, without importing torch: presets and backbones."""

from __future__ import annotations

#: Class count (background included) of each preset's dataset.
PRESET_CLASSES: dict[str, int] = {"scribblesup": 21, "coco": 81, "cityscapes": 9, "acdc": 4}

#: Stage-2 backbones (torchvision ResNets), smallest first.
BACKBONE_NAMES: tuple[str, ...] = ("resnet18", "resnet50", "resnet101")

#: Where stage 1's scribble loss L_segs gets its logits: its own LargeFOV head or ToCo's.
SEGS_HEADS: tuple[str, ...] = ("separate", "shared")

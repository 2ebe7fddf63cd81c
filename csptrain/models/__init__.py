"""Models of both stages, shaped like torchvision's builders.

Stage 1: :func:`toco_vit` (a timm ViT with ToCo's heads and the scribble head).
Stage 2: :func:`deeplabv3plus` and its per-backbone builders; :class:`LoRM`; :class:`Stage2Model`
(both together).
"""

from .deeplabv3plus import (
    BACKBONES,
    DeepLabV3Plus,
    deeplabv3plus,
    deeplabv3plus_resnet18,
    deeplabv3plus_resnet50,
    deeplabv3plus_resnet101,
)
from .largefov import LargeFOV
from .lorm import LoRM
from .stage2 import Stage2Model
from .toco import ToCoNet, toco_vit

__all__ = [
    "BACKBONES",
    "DeepLabV3Plus",
    "LargeFOV",
    "LoRM",
    "Stage2Model",
    "ToCoNet",
    "deeplabv3plus",
    "deeplabv3plus_resnet18",
    "deeplabv3plus_resnet50",
    "deeplabv3plus_resnet101",
    "toco_vit",
]

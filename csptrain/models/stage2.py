"""Stage 2's trained module: the DeepLabV3+ segmentor and, when enabled, LoRM."""

from __future__ import annotations

from pathlib import Path

import torch

from .deeplabv3plus import deeplabv3plus
from .lorm import LoRM


class Stage2Model(torch.nn.Module):
    """The segmentor and, when ``lorm_mask`` is given, LoRM (a loss module with parameters of its own).

    ``forward`` runs the segmentor only; the stage-2 losses apply LoRM to its features.

    Parameters
    ----------
    backbone : {"resnet18", "resnet50", "resnet101"}
    num_classes : int
        Background included.
    pretrained : path, optional
        ImageNet weights of the ResNet (a torchvision state dict file).
    lorm_mask : {"queries", "keys"}, optional
        LoRM's mask (see :class:`~csptrain.models.lorm.LoRM`); None leaves LoRM out.
    """

    def __init__(
        self, backbone: str, num_classes: int, pretrained: Path | None = None, lorm_mask: str | None = None
    ) -> None:
        super().__init__()
        self.segmentor = deeplabv3plus(backbone, num_classes, pretrained)
        channels = self.segmentor.aspp.convs[0][0].in_channels
        self.lorm = LoRM(channels, mask=lorm_mask) if lorm_mask is not None else None

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.segmentor(images)

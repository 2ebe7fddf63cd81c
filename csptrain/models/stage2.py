"""Stage 2's trained module: the segmentor (DeepLabV3+ or UNet) and, when enabled, LoRM."""

from __future__ import annotations

from pathlib import Path

import torch

from ..errors import ConfigError
from .deeplabv3plus import deeplabv3plus
from .lorm import LoRM
from .unet import LEVEL_CHANNELS, unet


class Stage2Model(torch.nn.Module):
    """The segmentor and, when ``lorm_mask`` is given, LoRM (a loss module with parameters of its own).

    ``forward`` runs the segmentor only; the stage-2 losses apply LoRM to its features.

    Parameters
    ----------
    backbone : {"resnet18", "resnet50", "resnet101"}
        DeepLabV3+'s ResNet.
    num_classes : int
        Background included.
    pretrained : path, optional
        ImageNet weights of the ResNet (a torchvision state dict file).
    lorm_mask : {"queries", "keys"}, optional
        LoRM's mask (see :class:`~csptrain.models.lorm.LoRM`); None leaves LoRM out.
    segmentor : {"deeplabv3plus", "unet"}
        The UNet (WSL4MIS's, trained from scratch) ignores ``backbone`` and ``output_stride``;
        LoRM then works on its bottleneck.
    output_stride : {8, 16}
        DeepLabV3+'s.
    """

    def __init__(
        self,
        backbone: str,
        num_classes: int,
        pretrained: Path | None = None,
        lorm_mask: str | None = None,
        *,
        segmentor: str = "deeplabv3plus",
        output_stride: int = 8,
    ) -> None:
        super().__init__()
        self.segmentor: torch.nn.Module
        if segmentor == "unet":
            if pretrained is not None:
                raise ConfigError(f"{pretrained}: the UNet trains from scratch (no ImageNet weights to load)")
            self.segmentor = unet(num_classes)
            channels = LEVEL_CHANNELS[-1]  # the bottleneck's
        else:
            self.segmentor = deeplabv3plus(backbone, num_classes, pretrained, output_stride)
            channels = self.segmentor.aspp.convs[0][0].in_channels
        self.lorm = LoRM(channels, mask=lorm_mask) if lorm_mask is not None else None

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.segmentor(images)

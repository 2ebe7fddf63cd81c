"""The UNet of WSL4MIS (Table V's baseline): four 2x2 poolings, transposed-convolution upsampling."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

#: Channels of the five levels and the dropout after each encoder block's first convolution,
#: as WSL4MIS's ``UNet`` (from PyMIC) has them; its decoder has no dropout.
LEVEL_CHANNELS = (16, 32, 64, 128, 256)
ENCODER_DROPOUT = (0.05, 0.1, 0.2, 0.3, 0.5)
#: The input's sides must divide by this (four poolings); other sizes are padded.
SIZE_MULTIPLE = 2 ** (len(LEVEL_CHANNELS) - 1)


def conv_block(in_channels: int, out_channels: int, dropout: float) -> nn.Sequential:
    """Two 3x3 convolutions, each with BatchNorm and LeakyReLU, dropout between them."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(),
        nn.Dropout(dropout),
        nn.Conv2d(out_channels, out_channels, 3, padding=1),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(),
    )


class UpLevel(nn.Module):
    """Upsample the coarser level 2x (transposed convolution), join the skip, convolve."""

    def __init__(self, coarse_channels: int, fine_channels: int) -> None:
        super().__init__()
        self.up = nn.ConvTranspose2d(coarse_channels, fine_channels, 2, stride=2)
        self.block = conv_block(2 * fine_channels, fine_channels, 0.0)

    def forward(self, coarse: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.block(torch.cat([skip, self.up(coarse)], dim=1))


class UNet(nn.Module):
    """WSL4MIS's UNet (levels of 16-256 channels).

    ``forward`` returns ``{"out": logits at input size, "features": the bottleneck}``, as
    :class:`~csptrain.models.deeplabv3plus.DeepLabV3Plus` does. Inputs of any size are
    zero-padded (bottom and right) to a multiple of 16 and the logits cropped back, where
    WSL4MIS resizes every slice to 256 x 256.
    """

    def __init__(self, num_classes: int, in_channels: int = 3) -> None:
        super().__init__()
        channels = (in_channels, *LEVEL_CHANNELS)
        self.encoder = nn.ModuleList(
            conv_block(channels[level], channels[level + 1], ENCODER_DROPOUT[level])
            for level in range(len(LEVEL_CHANNELS))
        )
        self.decoder = nn.ModuleList(
            UpLevel(LEVEL_CHANNELS[level + 1], LEVEL_CHANNELS[level])
            for level in reversed(range(len(LEVEL_CHANNELS) - 1))
        )
        self.classifier = nn.Conv2d(LEVEL_CHANNELS[0], num_classes, 3, padding=1)
        self.size_multiple = SIZE_MULTIPLE  # an attribute, not a global, so that TorchScript compiles forward

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        height, width = images.shape[-2:]
        x = F.pad(images, (0, -width % self.size_multiple, 0, -height % self.size_multiple))
        levels: list[torch.Tensor] = []
        for level, block in enumerate(self.encoder):
            x = block(x if level == 0 else F.max_pool2d(x, 2))
            levels.append(x)
        features = x
        for k, up in enumerate(self.decoder):  # the skips from the second-deepest level up
            x = up(x, levels[-2 - k])
        return {"out": self.classifier(x)[..., :height, :width], "features": features}


def unet(num_classes: int = 4, in_channels: int = 3) -> UNet:
    """Build WSL4MIS's UNet (Table V's baseline; trained from scratch, as there).

    Parameters
    ----------
    num_classes : int
        Including background.
    in_channels : int
        3 for csptrain's normalised images (a grayscale slice is read as three equal
        channels, which one 3-channel convolution turns into what WSL4MIS's 1-channel one
        computes); 1 for raw slices.
    """
    return UNet(num_classes, in_channels)

"""The shallow LargeFOV head ToCo puts on the patch tokens (``model/decoder/conv_head.py``)."""

from __future__ import annotations

from torch import nn


class LargeFOV(nn.Sequential):
    """3x3 conv (dilation 5) -> ReLU -> 3x3 conv (dilation 5) -> ReLU -> 1x1 conv, no biases.

    Parameters
    ----------
    in_channels : int
        Channels of the feature map (the ViT's embedding width).
    num_classes : int
        Output channels, background included.
    hidden : int
        Width of the two dilated convolutions (512 in ToCo).
    dilation : int
    """

    def __init__(self, in_channels: int, num_classes: int, hidden: int = 512, dilation: int = 5) -> None:
        super().__init__(
            nn.Conv2d(in_channels, hidden, 3, padding=dilation, dilation=dilation, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, hidden, 3, padding=dilation, dilation=dilation, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, num_classes, 1, bias=False),
        )

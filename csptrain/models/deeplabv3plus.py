"""DeepLabV3+ on a torchvision ResNet at output stride 8 (the authors') or 16 (cheap runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn
from torch.nn import functional as F
from torchvision.models.feature_extraction import create_feature_extractor
from torchvision.models.segmentation.deeplabv3 import ASPP

from ..catalog import BACKBONE_NAMES, OUTPUT_STRIDES
from ..errors import ConfigError, WeightsError
from .weights import load_weights

#: The ResNets stage 2 builds on, by name.
BACKBONES = dict(
    zip(BACKBONE_NAMES, (torchvision.models.resnet18, torchvision.models.resnet50, torchvision.models.resnet101))
)
#: ASPP rates next to its 1x1 branch and image pooling, as the authors' DeepLabV3+ has them.
ATROUS_RATES = (6, 12, 18)
#: Dilation of layer3's blocks and multi-grid dilations of layer4's (output stride 8), as
#: the authors' ResNet has them (torchvision's own would be 1, 2, 2 ... and 2, 4, 4).
LAYER3_DILATION = 2
LAYER4_DILATIONS = (4, 8, 16)
#: At output stride 16 only layer4 is dilated, with the same multi-grid at half the rates.
LAYER4_DILATIONS_OS16 = (2, 4, 8)


class DeepLabV3Plus(nn.Module):
    """DeepLabV3+: ASPP on layer4, a decoder with the 48-channel layer1 skip.

    ``forward`` returns ``{"out": logits at input size, "features": layer4 features}``;
    LoRM works on the latter.
    """

    def __init__(self, backbone: nn.Module, low_channels: int, high_channels: int, num_classes: int) -> None:
        super().__init__()
        self.backbone = create_feature_extractor(backbone, {"layer1": "low", "layer4": "high"})
        self.aspp = ASPP(high_channels, list(ATROUS_RATES), out_channels=256)
        self.skip = nn.Sequential(nn.Conv2d(low_channels, 48, 1, bias=False), nn.BatchNorm2d(48), nn.ReLU(inplace=True))
        self.decoder = nn.Sequential(
            nn.Conv2d(256 + 48, 256, 3, padding=1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, 3, padding=1, bias=False),
            nn.BatchNorm2d(256),
            nn.ReLU(inplace=True),
        )
        self.classifier = nn.Conv2d(256, num_classes, 1)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        levels = self.backbone(images)
        context = self.aspp(levels["high"])
        low = self.skip(levels["low"])
        context = F.interpolate(context, size=low.shape[-2:], mode="bilinear", align_corners=False)
        logits = self.classifier(self.decoder(torch.cat([context, low], dim=1)))
        logits = F.interpolate(logits, size=images.shape[-2:], mode="bilinear", align_corners=False)
        return {"out": logits, "features": levels["high"]}


def _dilate(layer: nn.Sequential, dilations: tuple[int, ...]) -> None:
    """Turn a layer's stride 2 into dilation: block ``k``'s 3x3 convolution gets ``dilations[k]``.

    The first block's stride goes (its shortcut's too); in a BasicBlock only the second
    3x3 convolution is dilated, as in the authors' ResNet.
    """
    first: Any = layer[0]  # a BasicBlock or Bottleneck
    (first.conv2 if hasattr(first, "conv3") else first.conv1).stride = (1, 1)
    if first.downsample is not None:
        first.downsample[0].stride = (1, 1)
    block: Any
    for block, dilation in zip(layer, dilations):
        block.conv2.dilation, block.conv2.padding = (dilation, dilation), (dilation, dilation)


def deeplabv3plus(
    backbone: str = "resnet101", num_classes: int = 21, pretrained: Path | None = None, output_stride: int = 8
) -> DeepLabV3Plus:
    """Build DeepLabV3+ as the authors do: output stride 8, layer3 dilated by 2, layer4 by
    the multi-grid 4, 8, 16, and ASPP rates 6, 12, 18 (plus the 1x1 branch and pooling).

    Parameters
    ----------
    backbone : {"resnet18", "resnet50", "resnet101"}
    num_classes : int
        Including background.
    pretrained : path, optional
        ImageNet weights of the ResNet as a torchvision state dict file (``.pth``, or
        ``.safetensors``); never downloaded, read without running code.
    output_stride : {8, 16}
        16 keeps layer3's stride and dilates layer4 by 2, 4, 8 (DeepLabV3+'s own setting,
        about a quarter of the backbone's cost at 8); ASPP keeps its rates.
    """
    if backbone not in BACKBONES:
        raise ConfigError(f"backbone must be one of {', '.join(BACKBONES)}, got {backbone!r}")
    if output_stride not in OUTPUT_STRIDES:
        raise ConfigError(f"output stride must be one of {', '.join(map(str, OUTPUT_STRIDES))}, got {output_stride}")
    bottleneck = backbone != "resnet18"
    resnet = BACKBONES[backbone](weights=None)
    if output_stride == 8:
        _dilate(resnet.layer3, (LAYER3_DILATION,) * len(resnet.layer3))
        _dilate(resnet.layer4, LAYER4_DILATIONS[: len(resnet.layer4)])
    else:
        _dilate(resnet.layer4, LAYER4_DILATIONS_OS16[: len(resnet.layer4)])
    if pretrained is not None:
        state = load_weights(pretrained)
        if not isinstance(state, dict):
            raise WeightsError(f"{pretrained}: not a state dict (a {type(state).__name__})")
        state = {k: v for k, v in state.items() if not k.startswith("fc.")}
        expected = resnet.state_dict()
        reshaped = [
            k for k, v in state.items() if k in expected and tuple(getattr(v, "shape", ())) != expected[k].shape
        ]
        if reshaped:
            first = reshaped[0]
            raise WeightsError(
                f"{pretrained}: not a torchvision {backbone} state dict ({len(reshaped)} tensors of "
                f"another shape, e.g. {first}: {tuple(state[first].shape)} in the file, "
                f"{tuple(expected[first].shape)} in {backbone})"
            )
        missing, unexpected = resnet.load_state_dict(state, strict=False)
        if unexpected or [k for k in missing if not k.startswith("fc.")]:
            raise WeightsError(
                f"{pretrained}: not a torchvision {backbone} state dict "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]})"
            )
    low, high = (64, 512) if not bottleneck else (256, 2048)
    return DeepLabV3Plus(resnet, low, high, num_classes)


def deeplabv3plus_resnet18(num_classes: int = 21, weights_backbone: Path | None = None) -> DeepLabV3Plus:
    """DeepLabV3+ on ResNet-18 (tests and CPU runs); see :func:`deeplabv3plus`."""
    return deeplabv3plus("resnet18", num_classes, weights_backbone)


def deeplabv3plus_resnet50(num_classes: int = 21, weights_backbone: Path | None = None) -> DeepLabV3Plus:
    """DeepLabV3+ on ResNet-50; see :func:`deeplabv3plus`."""
    return deeplabv3plus("resnet50", num_classes, weights_backbone)


def deeplabv3plus_resnet101(num_classes: int = 21, weights_backbone: Path | None = None) -> DeepLabV3Plus:
    """DeepLabV3+ on ResNet-101, the paper's stage-2 model; see :func:`deeplabv3plus`."""
    return deeplabv3plus("resnet101", num_classes, weights_backbone)

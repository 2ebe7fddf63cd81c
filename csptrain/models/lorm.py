"""The localization rectification module (LoRM, paper III-C, Eqs. 11-14)."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class LoRM(nn.Module):
    """Rectify features by a foreground-masked, similarity-weighted aggregation.

    Q and K are 1x1-conv projections of the features F (C x HW). A is the row-wise
    softmax of the cosine similarities Q^T K (HW x HW); A' = M' * A masks the columns of
    background positions (M: pseudo-label foreground on the feature grid); F_hat =
    delta * F A' with delta learnable (initialised to 1). The loss is MSE(F, F_hat).

    Memory is O(B * (HW)^2): at a 465^2 crop and output stride 8, HW = 59^2 = 3481, so A
    holds 12.1 M entries per image (24 MB in bf16, 48 MB in fp32).
    """

    def __init__(self, channels: int, key_channels: int | None = None) -> None:
        super().__init__()
        key_channels = key_channels or channels
        self.query = nn.Conv2d(channels, key_channels, 1)
        self.key = nn.Conv2d(channels, key_channels, 1)
        self.delta = nn.Parameter(torch.ones(()))

    def rectify(self, features: torch.Tensor, foreground: torch.Tensor) -> torch.Tensor:
        """F_hat (B, C, h, w) for features (B, C, h, w) and a foreground mask (B, h, w)."""
        batch, channels, height, width = features.shape
        query = F.normalize(self.query(features).flatten(2), dim=1)  # B x C' x HW
        key = F.normalize(self.key(features).flatten(2), dim=1)
        similarity = torch.softmax(query.transpose(1, 2) @ key, dim=-1)  # B x HW x HW, rows sum to 1
        masked = similarity * foreground.flatten(1).to(similarity.dtype)[:, None, :]
        rectified = self.delta * (features.flatten(2) @ masked)
        return rectified.view(batch, channels, height, width)

    def forward(self, features: torch.Tensor, foreground: torch.Tensor) -> torch.Tensor:
        """MSE between the features and their rectification (unweighted)."""
        return F.mse_loss(self.rectify(features, foreground).float(), features.float())

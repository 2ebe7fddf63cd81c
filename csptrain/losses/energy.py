"""ToCo's CRF-style regulariser (rloss ``DenseEnergyLoss``) in plain torch.

The Gaussian kernel K_ij = exp(-|p_i - p_j|^2 / (2 sigma_xy^2) - |I_i - I_j|^2 / (2 sigma_rgb^2))
is summed on a permutohedral lattice, as ToCo's compiled filter does, here in torch
tensor operations (:mod:`csptrain.losses.lattice`), with its scale calibrated against the
exact kernel.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..data.labels import IGNORE
from .lattice import gaussian_sum


def dense_energy_loss(
    images: torch.Tensor,
    probabilities: torch.Tensor,
    roi: torch.Tensor,
    labels: torch.Tensor,
    *,
    sigma_rgb: float = 15.0,
    sigma_xy: float = 100.0,
    scale: float = 0.5,
    weight: float = 1e-7,
) -> torch.Tensor:
    """Dense CRF energy of the segmentation softmax, as ToCo's ``get_energy_loss``.

    Parameters
    ----------
    images : (B, 3, H, W)
        RGB in 0..255.
    probabilities : (B, K, H, W)
        Softmax of the segmentation head.
    roi : (B, H, W)
        1 inside the image's valid box, 0 on padding.
    labels : (B, H, W)
        The PAR pseudo-label; IGNORE marks pixels whose gate is always open.

    Returns
    -------
    weight * E with E = -sum_k S_k^T (K S_k * G) / B at ``scale`` of the resolution, where
    S = probabilities * roi and G = max(roi - max_k p, 0) (1 on IGNORE pixels). Its gradient
    is ToCo's, -2 weight (K S * G) / B, with G held constant.
    """
    images = F.interpolate(images.float(), scale_factor=scale, recompute_scale_factor=True)
    probabilities = F.interpolate(
        probabilities.float(), scale_factor=scale, mode="bilinear", align_corners=False, recompute_scale_factor=True
    )
    roi = F.interpolate(roi[:, None].float(), scale_factor=scale, recompute_scale_factor=True)[:, 0]
    labels = F.interpolate(labels[:, None].float(), scale_factor=scale, mode="nearest", recompute_scale_factor=True)[
        :, 0
    ]
    batch, classes, height, width = probabilities.shape
    gate = (roi - probabilities.max(1).values).masked_fill(labels == IGNORE, 1.0).clamp_min(0).detach()
    masked = probabilities * roi[:, None]
    ys, xs = torch.meshgrid(
        torch.arange(height, device=images.device, dtype=torch.float32),
        torch.arange(width, device=images.device, dtype=torch.float32),
        indexing="ij",
    )
    position = torch.stack([ys, xs], -1).reshape(-1, 2) / (sigma_xy * scale)
    energy = masked.new_zeros(())
    for b in range(batch):
        colour = images[b].reshape(3, -1).T / sigma_rgb
        values = masked[b].reshape(classes, -1).T
        filtered = gaussian_sum(torch.cat([position, colour], 1), values.detach()) * gate[b].reshape(-1, 1)
        # value S.AS, gradient 2 AS: the lattice filter's backward treats K S as linear in S
        product = (values * filtered).sum()
        energy = energy - (2 * product - product.detach())
    return weight * energy / batch

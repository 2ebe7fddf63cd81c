"""Pixel-adaptive refinement (PAR, AFA's ``wetr/PAR.py``, used by ToCo).

Each pixel's class scores are repeatedly replaced by an affinity-weighted sum over 48
neighbours (8 directions at dilations 1, 2, 4, 8, 12, 24), with affinities from colour
similarity (normalised by the local colour spread) plus a small spatial term.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

_DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def dilated_neighbours(x: torch.Tensor, dilations: Sequence[int]) -> torch.Tensor:
    """(B, C, 8 * len(dilations), H, W): the 8 neighbours at each dilation, edges replicated."""
    height, width = x.shape[-2:]
    shifted = []
    for d in dilations:
        padded = F.pad(x, [d] * 4, mode="replicate")
        shifted += [
            padded[..., d + dy * d : d + dy * d + height, d + dx * d : d + dx * d + width] for dy, dx in _DIRECTIONS
        ]
    return torch.stack(shifted, dim=2)


class PAR(nn.Module):
    """Refine class score maps with the image.

    Parameters
    ----------
    dilations : sequence of int
    iterations : int
    colour_scale : float
        w1 = 0.3: the softness of both affinity terms.
    position_weight : float
        w2 = 0.01: weight of the spatial term, added to the colour softmax (not renormalised).
    """

    def __init__(
        self,
        dilations: Sequence[int] = (1, 2, 4, 8, 12, 24),
        iterations: int = 10,
        colour_scale: float = 0.3,
        position_weight: float = 0.01,
    ) -> None:
        super().__init__()
        self.dilations, self.iterations = tuple(dilations), iterations
        self.colour_scale, self.position_weight = colour_scale, position_weight
        distance = [d * (math.sqrt(2) if dy and dx else 1.0) for d in self.dilations for dy, dx in _DIRECTIONS]
        self.distance: torch.Tensor
        self.register_buffer("distance", torch.tensor(distance).view(1, 1, -1, 1, 1), persistent=False)

    def affinity(self, images: torch.Tensor) -> torch.Tensor:
        """(B, 1, 48, H, W) neighbour weights of each pixel."""
        neighbours = dilated_neighbours(images, self.dilations)
        difference = (neighbours - images[:, :, None]).abs()
        spread = neighbours.std(dim=2, keepdim=True)
        colour = -((difference / (spread + 1e-8) / self.colour_scale) ** 2).mean(dim=1, keepdim=True)
        position = -((self.distance / (self.distance.std(dim=2, keepdim=True) + 1e-8) / self.colour_scale) ** 2)
        return colour.softmax(dim=2) + self.position_weight * position.softmax(dim=2)

    @torch.no_grad()
    def forward(self, images: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
        """Refined ``scores`` (B, K, H, W) for ``images`` (B, 3, H, W) of the same size."""
        affinity = self.affinity(images.float())
        scores = scores.float()
        for _ in range(self.iterations):
            scores = (dilated_neighbours(scores, self.dilations) * affinity).sum(dim=2)
        return scores

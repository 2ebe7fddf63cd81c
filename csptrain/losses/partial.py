"""Stage-2 losses: partial CE (Eq. 7), label-smoothed CE (Eq. 8), DPM (Eqs. 16, 18)."""

from __future__ import annotations

import torch
from torch.nn import functional as F

from ..data.labels import IGNORE


def partial_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy averaged over labelled pixels (labels != IGNORE), 0 if there are none.

    With ``label_smoothing`` = eps this is Eq. 8: (1 - eps) CE(y, p) + eps CE(1/K, p).
    """
    if not (labels != IGNORE).any():
        return logits.sum() * 0.0
    return F.cross_entropy(logits.float(), labels, ignore_index=IGNORE, label_smoothing=label_smoothing)


def pixel_entropy(logits: torch.Tensor) -> torch.Tensor:
    """Each pixel's entropy -sum_k p_k log p_k (N, H, W) of logits (N, K, H, W), in fp32.

    Both DPM terms weight the same entropy: computed once, it is one (N, K, H, W) fp32
    log-softmax per step instead of two.
    """
    log_p = F.log_softmax(logits.float(), dim=1)
    return -(log_p.exp() * log_p).sum(dim=1)


def weighted_entropy(entropy: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """DPM term: mean of weight * entropy over pixels with a non-zero weight (Eqs. 16, 18).

    ``entropy`` is :func:`pixel_entropy`'s; minimising the term makes predictions more
    certain where the weights are high, as Section III-D intends (the printed equations
    omit the minus sign).
    """
    nonzero = weights > 0
    if not nonzero.any():
        return entropy.sum() * 0.0
    return (weights * entropy)[nonzero].sum() / nonzero.sum()

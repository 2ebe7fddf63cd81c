"""ToCo's loss terms (``model/losses.py``): PTC, CTC and the background/foreground seg loss."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from scribblesim.engine.result import BACKGROUND

from ..data.labels import IGNORE
from .partial import partial_cross_entropy


def ptc_loss(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Patch token contrast: pull same-label tokens together, push different ones apart.

    Parameters
    ----------
    features : (B, D, h, w)
        Final patch tokens.
    labels : (B, h, w) int
        Aux-CAM labels on the token grid; IGNORE takes no part.

    Returns
    -------
    0.5 (1 - sum_pos |cos| / (N_pos + 1)) + 0.5 sum_neg |cos| / (N_neg + 1), with pairs
    i != j of one image, summed over the batch.
    """
    flat = F.normalize(features.flatten(2).float(), dim=1, eps=1e-8)
    cosine = (flat.transpose(1, 2) @ flat).abs()
    labels = labels.flatten(1)
    valid = labels != IGNORE
    pair_valid = valid[:, :, None] & valid[:, None, :]
    pair_valid &= ~torch.eye(labels.shape[1], dtype=torch.bool, device=labels.device)[None]
    same = labels[:, :, None] == labels[:, None, :]
    positive, negative = pair_valid & same, pair_valid & ~same
    return 0.5 * (1 - (cosine * positive).sum() / (positive.sum() + 1)) + 0.5 * (cosine * negative).sum() / (
        negative.sum() + 1
    )


def ctc_loss(student: torch.Tensor, teacher: torch.Tensor, flags: torch.Tensor, temperature: float) -> torch.Tensor:
    """Class token contrast with negative local crops (ToCo's ``CTCLoss_neg``).

    Parameters
    ----------
    student : (V * B, P)
        Projections of all V views, view-major (v0, v1 global; v2.. local crops).
    teacher : (2 * B, P)
        Teacher projections of the two global views.
    flags : (B, V)
        1 = positive view (always v0, v1), 0 = negative local crop.
    temperature : float

    Returns
    -------
    Batch mean of sum_a [sum_{j in P} -log(e_aj / (e_aj + sum_N e_an + 1e-4))
    - log(1 / (1 + sum_N e_an + 1e-4))] / (2 |P|), with e_aj = exp(t_a . s_j / T),
    evaluated in log space so that large dot products do not overflow.
    """
    batch, views = flags.shape
    logits = (
        torch.einsum(
            "bap,bvp->bav",
            teacher.float().reshape(2, batch, -1).transpose(0, 1),
            student.float().reshape(views, batch, -1).transpose(0, 1),
        )
        / temperature
    )
    negative = flags[:, None, :] == 0
    log_negatives = torch.logsumexp(logits.masked_fill(~negative, -math.inf), dim=-1)  # -inf when none
    log_denominator = torch.logaddexp(log_negatives, torch.tensor(math.log(1e-4), device=logits.device))
    positive_terms = (torch.logaddexp(logits, log_denominator[..., None]) - logits) * (flags[:, None, :] == 1)
    per_sample = (positive_terms.sum(-1) + F.softplus(log_denominator)).sum(-1)
    return (per_sample / 2 / (flags.sum(-1) + 1e-4)).mean()


def background_foreground_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """ToCo's seg loss: the mean of the CE over background pixels and the CE over foreground pixels.

    IGNORE is ignored; a half with no pixels contributes 0 (ToCo's would be NaN).
    """
    background = labels.masked_fill(labels != BACKGROUND, IGNORE)
    foreground = labels.masked_fill(labels == BACKGROUND, IGNORE)
    return 0.5 * (partial_cross_entropy(logits, background) + partial_cross_entropy(logits, foreground))


def classification_loss(logits: torch.Tensor, image_labels: torch.Tensor) -> torch.Tensor:
    """Multilabel soft margin loss of the pooled class scores against the image-level labels."""
    return F.multilabel_soft_margin_loss(logits.float(), image_labels.float())

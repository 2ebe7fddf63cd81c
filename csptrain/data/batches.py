"""The batches each stage's dataset yields: one typed record per stage (what the trainers read)."""

from __future__ import annotations

from typing import TypedDict

import torch


class Stage1Batch(TypedDict):
    """One stage-1 sample or batch (``N`` leading when batched), normalised images.

    ``image`` is the training crop (3, S, S); ``global_view`` and ``local_source`` are
    ToCo's views for CTC; ``scribble`` the crop's labels (IGNORE unlabelled); ``box`` the
    crop's image area as (top, bottom, left, right); ``image_labels`` the multi-hot
    classes of the image's scribble (background excluded).
    """

    image: torch.Tensor
    global_view: torch.Tensor
    local_source: torch.Tensor
    scribble: torch.Tensor
    box: torch.Tensor
    image_labels: torch.Tensor


class Stage2Batch(TypedDict):
    """One stage-2 sample or batch: the crop, its scribble and pseudo-labels, and DPM's maps.

    ``scribble`` and ``pseudo`` hold class ids (IGNORE unlabelled / uncertain); ``d_s`` and
    ``d_c`` are the scribble and pseudo-boundary distance weights of DPM (Eqs. 16, 18).
    """

    image: torch.Tensor
    scribble: torch.Tensor
    pseudo: torch.Tensor
    d_s: torch.Tensor
    d_c: torch.Tensor

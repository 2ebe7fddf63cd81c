"""Stage 1's network: ToCo's heads on a timm ViT, plus the scribble head of Eq. 9.

The ViT stays timm's; only the heads are ours (ToCo's ``model/model_seg_neg.py``):
a 1x1 classifier on the final patch tokens F and an auxiliary one on the tokens after
block ``depth - 3`` (both global-max-pooled for L_cls / L_aux, and the source of the CAMs),
ToCo's LargeFOV segmentation head, the CTC projection head with its EMA teacher, and the
scribble head trained with partial CE.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, cast

import timm
import torch
from timm.models.vision_transformer import VisionTransformer
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

from ..catalog import SEGS_HEADS
from ..errors import ConfigError, WeightsError
from .largefov import LargeFOV
from .weights import load_weights


class ProjectionHead(nn.Module):
    """CTC projection: MLP (D -> 2048 -> 2048 -> 256, GELU), L2-normalise, weight-normed linear.

    The last layer's gain is fixed to 1, so each output is a cosine against a learned
    direction (DINO's head, as ToCo uses it).
    """

    def __init__(self, in_dim: int, out_dim: int = 1024, hidden: int = 2048, bottleneck: int = 256) -> None:
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(), nn.Linear(hidden, bottleneck)
        )
        for layer in self.mlp:
            if isinstance(layer, nn.Linear):
                nn.init.trunc_normal_(layer.weight, std=0.02)
                nn.init.zeros_(layer.bias)
        self.last = weight_norm(nn.Linear(bottleneck, out_dim, bias=False))
        gain = self.last.parametrizations.weight.original0
        with torch.no_grad():
            gain.fill_(1.0)
        gain.requires_grad_(False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.last(F.normalize(self.mlp(tokens), dim=-1))


class ToCoNet(nn.Module):
    """Scribble-promoted ToCo.

    Parameters
    ----------
    encoder : timm VisionTransformer
        With a class token; built with ``dynamic_img_size=True`` so that any input size works.
    num_classes : int
        Background included; the classifiers have ``num_classes - 1`` outputs.
    segs_head : {"separate", "shared"}
        Where the scribble loss L_segs is applied: a second LargeFOV head (our default), or
        ToCo's own segmentation head.
    aux_layer : int
        Block (negative: from the end) whose output feeds the auxiliary classifier.
    ema_momentum : float
        Teacher projection head update theta_t <- m theta_t + (1 - m) theta.
    """

    def __init__(
        self,
        encoder: VisionTransformer,
        num_classes: int,
        segs_head: str = "separate",
        aux_layer: int = -3,
        ema_momentum: float = 0.9,
    ) -> None:
        super().__init__()
        if segs_head not in SEGS_HEADS:
            raise ConfigError(f"segs_head must be one of {', '.join(SEGS_HEADS)}, got {segs_head!r}")
        if getattr(encoder, "cls_token", None) is None:
            raise ConfigError("stage 1 needs a ViT with a class token (CTC works on it)")
        self.encoder = encoder
        assert encoder.pos_embed is not None  # every timm ViT has one
        encoder.pos_embed.requires_grad_(False)  # frozen in ToCo
        dim = encoder.embed_dim
        self.num_classes = num_classes
        self.aux_index = aux_layer % len(encoder.blocks)
        self.ema_momentum = ema_momentum
        self.classifier = nn.Conv2d(dim, num_classes - 1, 1, bias=False)
        self.aux_classifier = nn.Conv2d(dim, num_classes - 1, 1, bias=False)
        self.seg_head = LargeFOV(dim, num_classes)
        self.scribble_head = LargeFOV(dim, num_classes) if segs_head == "separate" else None
        self.proj_head = ProjectionHead(dim)
        self.proj_head_teacher = copy.deepcopy(self.proj_head)
        self.proj_head_teacher.requires_grad_(False)

    @property
    def patch_size(self) -> int:
        """The ViT's patch side: its inputs' sides are multiples of it."""
        return int(self.encoder.patch_embed.patch_size[0])

    def tokens(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Class token (B, D), final patch tokens F (B, D, h, w) after the norm, aux tokens before it."""
        outputs = self.encoder.forward_intermediates(images, indices=[self.aux_index], norm=False, output_fmt="NCHW")
        final, (aux,) = cast(tuple[torch.Tensor, list[torch.Tensor]], outputs)  # not intermediates_only
        height, width = aux.shape[-2:]
        patches = final[:, self.encoder.num_prefix_tokens :].transpose(1, 2)
        return final[:, 0], patches.reshape(final.shape[0], -1, height, width), aux

    @torch.no_grad()
    def cams(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw class activation maps (Eq. 10 before the ReLU) of the final and the aux tokens."""
        _, features, aux = self.tokens(images)
        return F.conv2d(features, self.classifier.weight), F.conv2d(aux, self.aux_classifier.weight)

    @torch.no_grad()
    def update_teacher(self) -> None:
        """EMA step of the teacher projection head."""
        for teacher, student in zip(self.proj_head_teacher.parameters(), self.proj_head.parameters()):
            teacher.mul_(self.ema_momentum).add_(student.detach(), alpha=1.0 - self.ema_momentum)

    def forward(self, images: torch.Tensor, views: list[torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Logits of both classifiers and both segmentation heads, and the patch tokens F.

        With ``views`` = [global view v1, local crops v2..], also the CTC projections:
        ``teacher`` (2B, P) of the detached class tokens of v0 = ``images`` and v1, and
        ``student`` (len(views) + 1) * B x P, view-major. The teacher is EMA-updated first.
        """
        cls_token, features, aux = self.tokens(images)
        outputs = {
            "cls": self.classifier(F.adaptive_max_pool2d(features, 1)).flatten(1),
            "cls_aux": self.aux_classifier(F.adaptive_max_pool2d(aux, 1)).flatten(1),
            "seg": self.seg_head(features),
            "features": features,
        }
        outputs["segs"] = self.scribble_head(features) if self.scribble_head is not None else outputs["seg"]
        if views:
            self.update_teacher()
            global_tokens = torch.cat([cls_token, self.tokens(views[0])[0]])
            local_tokens = [self.tokens(torch.cat(views[1:]))[0]] if len(views) > 1 else []
            outputs["teacher"] = self.proj_head_teacher(global_tokens.detach())
            outputs["student"] = self.proj_head(torch.cat([global_tokens, *local_tokens]))
        return outputs

    def param_groups(self) -> dict[str, list[torch.Tensor]]:
        """ToCo's optimiser groups: backbone, backbone norms (base lr), heads and decoders (10x lr)."""

        def trainable(module: nn.Module) -> list[torch.Tensor]:
            return [p for p in module.parameters() if p.requires_grad]

        norms: list[torch.Tensor] = [p for n, p in self.encoder.named_parameters() if p.requires_grad and "norm" in n]
        backbone: list[torch.Tensor] = [
            p for n, p in self.encoder.named_parameters() if p.requires_grad and "norm" not in n
        ]
        heads = [self.classifier.weight, self.aux_classifier.weight, *trainable(self.proj_head)]
        decoders = trainable(self.seg_head) + (trainable(self.scribble_head) if self.scribble_head is not None else [])
        return {"backbone": backbone, "backbone_norm": norms, "heads": heads, "decoders": decoders}


def _check_vit_weights(path: Path, backbone: str) -> None:
    """Refuse a state dict that holds no ViT patch embedding (timm would load nothing of it).

    The file is read here first, without running code (see
    :func:`~csptrain.models.weights.load_weights`), so that timm never unpickles a file
    that could; timm reads ``.npz`` files itself, which hold arrays only.
    """
    if path.suffix == ".npz":
        return
    state = load_weights(path)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not any(str(k).endswith("patch_embed.proj.weight") for k in state):
        size = len(state) if isinstance(state, dict) else 0
        raise WeightsError(
            f"{path}: not a checkpoint of {backbone} (no patch_embed.proj.weight among its {size} tensors)"
        )


def toco_vit(
    backbone: str = "vit_base_patch16_224",
    num_classes: int = 21,
    weights: Path | None = None,
    *,
    img_size: int = 448,
    segs_head: str = "separate",
    ema_momentum: float = 0.9,
    patch_size: int | None = None,
) -> ToCoNet:
    """Build scribble-promoted ToCo on a timm ViT.

    Parameters
    ----------
    backbone : str
        Any timm ViT with a class token, e.g. ``vit_base_patch16_224`` (the paper) or
        ``vit_tiny_patch16_224`` (tests).
    num_classes : int
        Background included.
    weights : path, optional
        A local timm/ImageNet checkpoint of ``backbone``, loaded through timm's checkpoint
        filter (the position embedding is resampled to the ``img_size`` grid). Without it
        the ViT starts from random weights. Nothing is downloaded.
    img_size : int
        Training crop size; other input sizes work too (``dynamic_img_size``).
    patch_size : int, optional
        Another patch side than the backbone's (timm resamples pretrained patch weights to it).
    """
    options: dict[str, Any] = dict(img_size=img_size, num_classes=0, dynamic_img_size=True)
    if patch_size is not None:
        options["patch_size"] = patch_size
    if weights is not None:
        if not Path(weights).is_file():
            raise WeightsError(f"{weights}: weights file not found")
        _check_vit_weights(Path(weights), backbone)
        options.update(pretrained=True, pretrained_cfg_overlay=dict(file=str(weights)))
    if not timm.is_model(backbone):
        raise ConfigError(f"unknown timm model {backbone!r}")
    try:
        encoder = timm.create_model(backbone, **options)
    except TypeError:  # a non-ViT refuses img_size / dynamic_img_size
        raise ConfigError(f"{backbone!r} is not a timm VisionTransformer") from None
    except RuntimeError as error:
        raise WeightsError(f"{weights}: not a checkpoint of {backbone} ({str(error).splitlines()[0][:120]})") from None
    except Exception as error:  # unpickling errors of a corrupt file
        if weights is None:
            raise
        raise WeightsError(f"{weights}: unreadable weights file ({type(error).__name__})") from None
    if not isinstance(encoder, VisionTransformer):
        raise ConfigError(f"{backbone!r} is not a timm VisionTransformer")
    return ToCoNet(encoder, num_classes, segs_head=segs_head, ema_momentum=ema_momentum)

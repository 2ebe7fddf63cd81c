"""Stage-2 hyper-parameters: defaults and per-dataset presets (Table A5)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..catalog import (
    BACKBONE_NAMES,
    LORM_MASKS,
    LOSS_TERMS,
    OPTIMIZERS,
    OUTPUT_STRIDES,
    SEGMENTORS,
    UNCERTAIN_PIXELS,
)
from ..config import config_to_dict, make_config
from ..errors import ConfigError

#: Table A5 of the paper: lr, lambda_segc, lambda_lorm, lambda_s, lambda_c per dataset (and the
#: evaluation base size where the authors' 512 does not fit).
PRESETS: dict[str, dict[str, float]] = {
    "scribblesup": dict(lr=2e-3, lambda_segc=0.8, lambda_lorm=0.5, lambda_s=1.0, lambda_c=7.0),
    "coco": dict(lr=2e-3, lambda_segc=0.8, lambda_lorm=0.5, lambda_s=1.0, lambda_c=7.0),
    # Cityscapes images are 2048 x 1024: the authors' long side of 512 would evaluate them at a
    # quarter of their resolution, so the evaluation base size is their full width.
    "cityscapes": dict(lr=1e-2, lambda_segc=0.4, lambda_lorm=0.5, lambda_s=2.0, lambda_c=7.0, eval_base_size=2048),
    # The paper gives no crop for ScribbleACDC's slices (154-512 px a side): WSL4MIS's 256 x 256,
    # and the evaluation's long side at scale 1 the same.
    "acdc": dict(
        lr=5e-2, lambda_segc=0.1, lambda_lorm=0.5, lambda_s=1.0, lambda_c=6.0, crop_size=256, eval_base_size=256
    ),
}


@dataclass(frozen=True)
class Stage2Config:
    """What a stage-2 run learns (paper III-A, III-C, III-D, V-A); how it runs is its
    :class:`~csptrain.runtime.settings.RunSettings`.

    ``optimizer`` is the paper's SGD (with ``momentum``) or AdamW (``momentum`` unused), which
    learns faster from scratch in short runs. ``rotation`` is the largest random rotation in
    degrees (0: none), ``blur`` the random Gaussian blur, ``dpm_pad`` the DPM weight of padded
    and rotated-in pixels (the authors': 1), and ``eval_base_size`` the long side the authors'
    evaluation scales multiply. The schedule is ``epochs`` whole epochs, or ``iterations``
    steps when set (for a budget of steps); either way its first ``warmup_epochs / epochs``
    warm up and the cosine reaches 0 at its last step (``RunSettings.max_steps`` stops a
    run early without changing it).
    """

    lr: float = 2e-3
    lambda_segc: float = 0.8
    lambda_lorm: float = 0.5
    lambda_s: float = 1.0
    lambda_c: float = 7.0
    label_smoothing: float = 0.2
    losses: tuple[str, ...] = LOSS_TERMS
    lorm_mask: str = "queries"
    uncertain: str = "background"
    segmentor: str = "deeplabv3plus"
    backbone: str = "resnet101"
    output_stride: int = 8
    epochs: int = 50
    warmup_epochs: int = 5
    iterations: int | None = None
    batch_size: int = 16
    optimizer: str = "sgd"
    momentum: float = 0.9
    weight_decay: float = 5e-4
    crop_size: int = 465
    scale_min: float = 0.5
    scale_max: float = 2.0
    rotation: float = 10.0
    blur: bool = True
    dpm_pad: float = 1.0
    eval_base_size: int = 512
    seed: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.losses) - set(LOSS_TERMS)
        if unknown or not self.losses:
            raise ConfigError(
                f"losses must be a non-empty subset of {','.join(LOSS_TERMS)}, got {','.join(self.losses)}"
            )
        if self.uncertain not in UNCERTAIN_PIXELS:
            raise ConfigError(f"uncertain must be one of {', '.join(UNCERTAIN_PIXELS)}, got {self.uncertain!r}")
        if self.lorm_mask not in LORM_MASKS:
            raise ConfigError(f"lorm_mask must be 'queries' (the authors') or 'keys', got {self.lorm_mask!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.segmentor not in SEGMENTORS:
            raise ConfigError(f"segmentor must be one of {', '.join(SEGMENTORS)}, got {self.segmentor!r}")
        if self.output_stride not in OUTPUT_STRIDES:
            raise ConfigError(
                f"output_stride must be one of {', '.join(map(str, OUTPUT_STRIDES))}, got {self.output_stride}"
            )
        if self.backbone not in BACKBONE_NAMES:
            raise ConfigError(f"backbone must be one of {', '.join(BACKBONE_NAMES)}, got {self.backbone!r}")
        if self.iterations is not None and self.iterations < 1:
            raise ConfigError(f"iterations must be >= 1, got {self.iterations}")
        for name in ("epochs", "batch_size", "crop_size"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not 0 <= self.rotation < 180:
            raise ConfigError(f"rotation must be in [0, 180) degrees, got {self.rotation}")
        if not 0 <= self.dpm_pad <= 1:
            raise ConfigError(f"dpm_pad must be in [0, 1], got {self.dpm_pad}")
        if self.eval_base_size < 1:
            raise ConfigError(f"eval_base_size must be >= 1, got {self.eval_base_size}")
        if not 0 < self.scale_min <= self.scale_max:
            raise ConfigError(f"need 0 < scale_min <= scale_max, got {self.scale_min}, {self.scale_max}")

    def schedule_length(self, per_epoch: int) -> int:
        """Steps of the schedule at ``per_epoch`` steps per epoch: ``iterations`` when set, else ``epochs`` whole epochs."""
        return self.iterations or self.epochs * per_epoch

    def to_dict(self) -> dict:
        """JSON/YAML-serialisable form."""
        return config_to_dict(self)


def make_stage2_config(preset: str | None = None, yaml_file: Path | None = None, **overrides) -> Stage2Config:
    """Defaults, then the Table A5 preset, then a YAML file, then explicit overrides (``None`` = unset)."""
    return make_config(Stage2Config, PRESETS, preset, yaml_file, **overrides)

"""Stage-1 hyper-parameters: ToCo's defaults, Table A4 presets, our choices as switches."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..catalog import SEGS_HEADS
from ..config import config_to_dict, make_config
from ..errors import ConfigError

#: ToCo's VOC schedule: seg + reg from 10 % of the iterations, PTC + CTC from the start.
_VOC_SCHEDULE = dict(seg_start=0.1, contrast_start=0.0)
#: ToCo's COCO run (80k): cls only to 8k, seg + reg from 8k (aux-CAM target), PTC + CTC and
#: the final-CAM target from 12k; thresholds 0.65 / 0.45, CTC temperature 1.
_COCO_TOCO = dict(seg_start=0.1, contrast_start=0.15, high_threshold=0.65, bkg_threshold=0.45, ctc_temperature=1.0)

#: Table A4 (batch = samples per GPU; iterations; lambda_cls; lambda_segs) with ToCo's settings.
PRESETS: dict[str, dict] = {
    "scribblesup": dict(batch_size=2, iterations=20000, lambda_cls=1.0, lambda_segs=0.03, **_VOC_SCHEDULE),
    "coco": dict(batch_size=2, iterations=80000, lambda_cls=1.0, lambda_segs=0.05, **_COCO_TOCO),
    "cityscapes": dict(batch_size=4, iterations=20000, lambda_cls=1.0, lambda_segs=0.5, **_VOC_SCHEDULE),
    # The paper gives no crop for ScribbleACDC's slices: WSL4MIS's 256 x 256, as stage 2's preset.
    "acdc": dict(batch_size=2, iterations=9000, lambda_cls=0.1, lambda_segs=0.9, crop_size=256, **_VOC_SCHEDULE),
}
#: GPUs of each Table A4 run: the batch per step is GPUs x batch_size.
PRESET_GPUS = {"scribblesup": 2, "coco": 4, "cityscapes": 2, "acdc": 2}
for _name, _preset in PRESETS.items():  # the global batch that accumulation keeps on fewer GPUs
    _preset["global_batch"] = _preset["batch_size"] * PRESET_GPUS[_name]


@dataclass(frozen=True)
class Stage1Config:
    """What a stage-1 run learns (paper III-B, Eq. 9, Table A4; ToCo); how it runs is its
    :class:`~csptrain.runtime.settings.RunSettings`.

    ``batch_size`` is per process; ``global_batch`` (the presets': Table A4's GPUs x batch)
    is kept by accumulating ``global_batch / (batch_size x processes)`` micro-batches
    unless ``RunSettings.accumulate`` says how many (1: none).
    """

    backbone: str = "vit_base_patch16_224"
    #: The ViT's patch side; None keeps the backbone's own (16). A smaller patch gives a finer
    #: token grid (4x the tokens at half the side): a CPU proxy's knob, see docs/results.md.
    patch_size: int | None = None
    iterations: int = 20000
    batch_size: int = 2
    global_batch: int | None = None
    lambda_cls: float = 1.0
    lambda_segs: float = 0.03
    segs_head: str = "separate"
    segs_from: int = 0
    lr: float = 6e-5
    head_lr_multiplier: float = 10.0
    weight_decay: float = 0.01
    betas: tuple[float, ...] = (0.9, 0.999)
    warmup_iters: int = 1500
    warmup_ratio: float = 1e-6
    power: float = 0.9
    crop_size: int = 448
    local_crop_size: int = 96
    local_crops: int = 8
    scale_min: float = 0.5
    scale_max: float = 2.0
    cam_scales: tuple[float, ...] = (1.0, 0.5, 1.5)
    high_threshold: float = 0.7
    low_threshold: float = 0.25
    bkg_threshold: float = 0.5
    w_ptc: float = 0.2
    w_ctc: float = 0.5
    w_seg: float = 0.1
    w_reg: float = 0.05
    ctc_temperature: float = 0.5
    ema_momentum: float = 0.9
    seg_start: float = 0.1
    contrast_start: float = 0.0
    par_dilations: tuple[int, ...] = (1, 2, 4, 8, 12, 24)
    par_iterations: int = 10
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("iterations", "batch_size", "crop_size", "local_crop_size", "par_iterations"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.patch_size is not None and self.patch_size < 1:
            raise ConfigError(f"patch_size must be >= 1, got {self.patch_size}")
        if self.segs_head not in SEGS_HEADS:
            raise ConfigError(f"segs_head must be one of {', '.join(SEGS_HEADS)}, got {self.segs_head!r}")
        if self.local_crop_size >= self.crop_size:
            raise ConfigError(
                f"local_crop_size ({self.local_crop_size}) must be smaller than crop_size ({self.crop_size})"
            )
        if not 0 <= self.low_threshold < self.high_threshold <= 1:
            raise ConfigError(
                f"need 0 <= low_threshold < high_threshold <= 1, got {self.low_threshold}, {self.high_threshold}"
            )
        if not 0 < self.scale_min <= self.scale_max:
            raise ConfigError(f"need 0 < scale_min <= scale_max, got {self.scale_min}, {self.scale_max}")
        if not self.cam_scales or min(self.cam_scales) <= 0:
            raise ConfigError(f"cam_scales must be positive, got {self.cam_scales}")

    def to_dict(self) -> dict:
        """JSON/YAML-serialisable form."""
        return config_to_dict(self)


def make_stage1_config(preset: str | None = None, yaml_file: Path | None = None, **overrides) -> Stage1Config:
    """Defaults, then the Table A4 preset, then a YAML file, then explicit overrides (``None`` = unset)."""
    return make_config(Stage1Config, PRESETS, preset, yaml_file, **overrides)

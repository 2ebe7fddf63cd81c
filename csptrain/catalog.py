"""Every choice csptrain offers, in one place and without torch: the CLI, configs and models read it."""

from __future__ import annotations

#: Class count (background included) of each preset's dataset.
PRESET_CLASSES: dict[str, int] = {"scribblesup": 21, "coco": 81, "cityscapes": 9, "acdc": 4}

#: Stage-2 backbones (torchvision ResNets), smallest first.
BACKBONE_NAMES: tuple[str, ...] = ("resnet18", "resnet50", "resnet101")

#: Stage-2 segmentors: the paper's DeepLabV3+ on a ResNet, or WSL4MIS's UNet (Table V's baseline).
SEGMENTORS: tuple[str, ...] = ("deeplabv3plus", "unet")

#: Stage-2 optimisers: the paper's SGD, or AdamW for short runs from scratch.
OPTIMIZERS: tuple[str, ...] = ("sgd", "adamw")

#: DeepLabV3+'s output strides: the authors' 8, or 16 for cheap runs.
OUTPUT_STRIDES: tuple[int, ...] = (8, 16)

#: Where stage 1's scribble loss L_segs gets its logits: its own LargeFOV head or ToCo's.
SEGS_HEADS: tuple[str, ...] = ("separate", "shared")

#: Stage 2's loss terms (Eqs. 5-8, 14, 16, 18, 19).
LOSS_TERMS: tuple[str, ...] = ("segs", "segc", "ds", "dc", "lorm")

#: The terms that read stage 1's pseudo-labels (the others need only the scribbles).
PSEUDO_LABEL_TERMS: frozenset[str] = frozenset({"segc", "dc", "lorm"})

#: How LoRM's foreground mask enters: on query rows (the authors' code) or key columns.
LORM_MASKS: tuple[str, ...] = ("queries", "keys")

#: What stage 2's pseudo-label CE makes of uncertain pseudo-label pixels (IGNORE): background, as the
#: authors' code trains whenever LoRM is on, or ignored.
UNCERTAIN_PIXELS: tuple[str, ...] = ("background", "ignore")

#: Evaluation protocols accepted by ``--protocol``; the first is the default.
PROTOCOLS: tuple[str, ...] = ("authors", "single-scale")

#: Files ``csptrain export`` writes: ONNX (onnxruntime, the ``export`` extra) or TorchScript (libtorch).
EXPORT_FORMATS: tuple[str, ...] = ("onnx", "torchscript")

#: What stage 1's pseudo-labels come from: the classifier's CAMs (the paper, ToCo), or the
#: scribble head's predictions (our choice where image labels are nearly constant, as on ScribbleACDC).
PSEUDO_SOURCES: tuple[str, ...] = ("cam", "scribble-head")

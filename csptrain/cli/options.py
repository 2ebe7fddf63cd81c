"""The option tables of ``csptrain``'s commands: the trainers' flags, evaluation's and inference's.

Each option is declared here once; the commands (:mod:`csptrain.cli`) put them together.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from scribblesim.cli.options import SEED

from ..catalog import (
    BACKBONE_NAMES,
    LORM_MASKS,
    LOSS_TERMS,
    OPTIMIZERS,
    OUTPUT_STRIDES,
    PRESET_CLASSES,
    PROTOCOLS,
    SEGMENTORS,
    SEGS_HEADS,
    UNCERTAIN_PIXELS,
)
from ..runtime.settings import RUN_DEFAULTS

PRESET = click.Choice(sorted(PRESET_CLASSES))
CONTEXT = {"help_option_names": ["-h", "--help"]}
SOURCE_HELP = "Pseudo-labels from the CAMs (the paper) or the scribble head (where image labels hardly vary)."
SPLIT_HELP = "Split list of the build: its real name (train2017) or its role name (train, val)."


def options_from(specs: list[tuple], prefix: str = "", defaults=None) -> Callable:
    """Click options from (flag, kwargs) pairs, each flag optionally prefixed (``--stage1-...``).

    The options default to None (the preset or YAML decides); ``defaults``, a config
    instance, gives the value shown in ``--help``.
    """

    def decorate(command: Callable) -> Callable:
        for flag, kwargs in reversed(specs):
            names = [f"--{prefix}{name.lstrip('-')}" for name in flag.split("/")]
            if len(names) == 2:  # a --x/--no-x switch
                names = [f"{names[0]}/--{prefix}{flag.split('/')[1].lstrip('-')}"]
            field = flag.split("/")[0].lstrip("-").replace("-", "_")
            if getattr(defaults, field, None) is not None:
                value = getattr(defaults, field)
                shown = ",".join(value) if isinstance(value, tuple) else value
                kwargs = {**kwargs, "help": f"{kwargs.get('help', '')} [default: {shown}]".strip()}
            command = click.option(*names, **kwargs)(command)
        return command

    return decorate


def take_prefixed(values: dict, prefix: str) -> dict:
    """Pop the ``prefix``-ed entries of ``values`` and return them without the prefix."""
    return {key[len(prefix) :]: values.pop(key) for key in [k for k in values if k.startswith(prefix)]}


def protocol_options(command: Callable) -> Callable:
    """``--protocol``, ``--scales`` and ``--flip``: how ``eval`` (and ``run``'s evaluation) predicts."""
    command = click.option("--flip", is_flag=True, help="Average with horizontally flipped predictions.")(command)
    command = click.option(
        "--scales",
        type=float,
        multiple=True,
        default=(),
        metavar="SCALE [SCALE ...]",
        help="Override the protocol's scales: --scales 0.75 1 1.25.",
    )(command)
    return click.option(
        "--protocol",
        type=click.Choice(PROTOCOLS),
        default=PROTOCOLS[0],
        show_default=True,
        help="authors: long side x scales 0.5-2, sliding windows; single-scale: the whole image once.",
    )(command)


def inference_options(command: Callable) -> Callable:
    """``--device``, ``--workers`` (image readers) and ``--no-progress``: how ``eval`` and ``predict`` run."""
    command = click.option("--no-progress", is_flag=True)(command)
    command = click.option(
        "--workers",
        type=click.IntRange(min=0),
        default=None,
        help="Image-reading processes (0: the main process) [default: from the CPUs].",
    )(command)
    return device_option(command)


#: ``--device``, declared once: the trainers take it in their run settings' table
#: (:data:`RUN`), and the other commands that run a model through :func:`device_option`.
DEVICE = ("--device", dict(default=RUN_DEFAULTS.device, help="auto, cpu, cuda, cuda:1 ..."))


def device_option(command: Callable) -> Callable:
    """``--device`` on a command (:data:`DEVICE`)."""
    return options_from([DEVICE], defaults=RUN_DEFAULTS)(command)


#: The learnt flags the two trainers share; in ``run`` they apply to both stages.
COMMON = [("--seed", dict(type=SEED, default=None))]
#: How a run runs (:class:`~csptrain.runtime.settings.RunSettings`): one set for a command,
#: in ``run`` for every stage.
RUN = [
    DEVICE,
    (
        "--workers",
        dict(
            type=click.IntRange(min=0),
            default=None,
            help="Data-loading processes per rank [default: its share of the CPUs, at most 8].",
        ),
    ),
    ("--bf16/--no-bf16", dict(default=None, help="bf16 autocast on CUDA.")),
    ("--checkpoint-every", dict(type=click.IntRange(min=1), default=None)),
]
#: Stage 2's own run settings: how its convolutions run on CUDA.
RUN_STAGE2 = [
    ("--channels-last/--no-channels-last", dict(default=None)),
    ("--compile/--no-compile", dict(default=None)),
]
#: Where a stage's run stops and how a step's batch is split: run settings of each stage
#: (``run`` also takes them as ``--stage1-...``, which default to stage 2's).
STEPS = [
    (
        "--max-steps",
        dict(
            type=click.IntRange(min=1),
            default=None,
            help="Stop after this many steps (the schedule keeps its length).",
        ),
    ),
    (
        "--accumulate",
        dict(
            type=click.IntRange(min=1),
            default=None,
            help="Micro-batches per step [default: stage 1 as many as Table A4's global batch needs, stage 2 1].",
        ),
    ),
]
STAGE1 = [
    ("--backbone", dict(default=None, help="Any timm ViT name (default vit_base_patch16_224).")),
    ("--iterations", dict(type=int, default=None, help="Schedule length (Table A4).")),
    ("--batch-size", dict(type=int, default=None, help="Samples per process (Table A4's SPG).")),
    ("--crop-size", dict(type=int, default=None)),
    ("--local-crop-size", dict(type=int, default=None)),
    ("--lr", dict(type=float, default=None)),
    ("--lambda-cls", dict(type=float, default=None)),
    ("--lambda-segs", dict(type=float, default=None)),
    (
        "--segs-head",
        dict(
            type=click.Choice(SEGS_HEADS),
            default=None,
            help="A second LargeFOV head for L_segs (our choice), or ToCo's seg head.",
        ),
    ),
    ("--segs-from", dict(type=int, default=None, help="Iteration from which L_segs is on.")),
    ("--w-reg", dict(type=float, default=None, help="Weight of the dense energy regulariser (0 = off).")),
]
STAGE2 = [
    (
        "--segmentor",
        dict(
            type=click.Choice(SEGMENTORS),
            default=None,
            help="DeepLabV3+ (the paper's) or WSL4MIS's UNet (Table V's baseline, from scratch).",
        ),
    ),
    ("--backbone", dict(type=click.Choice(BACKBONE_NAMES), default=None, help="DeepLabV3+'s ResNet.")),
    (
        "--output-stride",
        dict(
            type=click.Choice([str(s) for s in OUTPUT_STRIDES]),
            default=None,
            callback=lambda ctx, param, value: None if value is None else int(value),
            help="DeepLabV3+'s: 8 as the authors, 16 for cheap runs.",
        ),
    ),
    ("--losses", dict(default=None, help=f"Comma-separated subset of {','.join(LOSS_TERMS)}.")),
    (
        "--lorm-mask",
        dict(
            type=click.Choice(LORM_MASKS),
            default=None,
            help="LoRM masks query rows (the authors' code) or key columns (our reading of the paper).",
        ),
    ),
    ("--lr", dict(type=float, default=None)),
    (
        "--optimizer",
        dict(
            type=click.Choice(OPTIMIZERS),
            default=None,
            help="SGD with momentum (the paper's) or AdamW (short runs from scratch).",
        ),
    ),
    (
        "--uncertain",
        dict(
            type=click.Choice(UNCERTAIN_PIXELS),
            default=None,
            help="Uncertain pseudo-label pixels in L_segc: background (the authors' code) or ignored.",
        ),
    ),
    ("--lambda-segc", dict(type=float, default=None)),
    ("--lambda-lorm", dict(type=float, default=None)),
    ("--lambda-s", dict(type=float, default=None)),
    ("--lambda-c", dict(type=float, default=None)),
    (
        "--label-smoothing",
        dict(type=float, default=None, help="Of L_segc: 0.2 as the paper's Eq. 8 (the authors' script: 0.1)."),
    ),
    ("--epochs", dict(type=int, default=None)),
    (
        "--iterations",
        dict(
            type=click.IntRange(min=1),
            default=None,
            help="Schedule length in steps instead of whole epochs (warm-up and cosine laid over them).",
        ),
    ),
    ("--batch-size", dict(type=int, default=None)),
    ("--crop-size", dict(type=int, default=None)),
    ("--rotation", dict(type=float, default=None, help="Largest random rotation in degrees, 0 for none.")),
    ("--blur/--no-blur", dict(default=None, help="5 x 5 Gaussian blur of half the images, as the authors.")),
    (
        "--dpm-pad",
        dict(
            type=float,
            default=None,
            help="DPM weight where padding or rotation leaves no image: 1 as the authors, 0 for none.",
        ),
    ),
]

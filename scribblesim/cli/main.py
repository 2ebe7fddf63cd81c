"""The ``scribblesim`` command line.

Every command runs under :class:`~.failures.OneLineErrors`: a :class:`DatasetError` or
``OSError`` anywhere below prints one ``error:`` line and exits 2, Ctrl-C prints one line
and exits 130, and warnings print as one ``warning:`` line each.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import click

from ..datasets.registry import dataset_adapter
from ..datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
from ..engine.config import SimConfig
from ..engine.result import MAX_8BIT_CLASS
from ..errors import ConfigError, DatasetError
from ..parallel import DEFAULT_BACKEND, JOBLIB_BACKENDS, usable_cores
from ..sets.build import BuildSpec, build
from ..sets.files import LABEL_PNG_MODES, default_label_png, relative_path
from .failures import OneLineErrors
from .options import SEED, jobs_option

DEFAULT_OUT = Path("scribbles-out")


def build_options(function):
    """Options shared by every ``build`` subcommand."""

    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=DEFAULT_OUT,
        show_default=True,
        help="Output folder.",
    )
    @click.option(
        "--seeds",
        "seeds",
        type=SEED,
        multiple=True,
        metavar="SEED [SEED ...]",
        help="Seeds (annotators): --seeds 1 2 3. Default: 1.",
    )
    @jobs_option("Parallel workers.")
    @click.option(
        "--backend",
        type=click.Choice(JOBLIB_BACKENDS),
        default=DEFAULT_BACKEND,
        show_default=True,
        help="joblib backend (multiprocessing: forked workers, quick to start).",
    )
    @click.option(
        "--scheduler",
        default=None,
        metavar="ADDRESS",
        envvar="DASK_SCHEDULER_ADDRESS",
        show_envvar=True,
        help="Address of a running dask.distributed scheduler (implies --backend dask).",
    )
    @click.option("--copy-images", is_flag=True, help="Copy images into JPEGImages/ instead of symlinking them.")
    @click.option(
        "--prefix", default=None, help="Name prefix of the scribble folders (default: from dataset and split)."
    )
    @click.option(
        "--width",
        type=int,
        default=SimConfig.width,
        show_default=True,
        help="Stroke thickness in pixels, as OpenCV's (2 is about 3 px across).",
    )
    @click.option(
        "--erosion-kernel",
        type=int,
        default=SimConfig.erosion_kernel,
        show_default=True,
        help="Erosion kernel k of boundary scribbles.",
    )
    @click.option("--no-background", is_flag=True, help="Do not scribble the background.")
    @click.option(
        "--style",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Style file (JSON of SimConfig fields, e.g. from scribblesim fit); options given here win.",
    )
    @click.option(
        "--label-png",
        type=click.Choice(LABEL_PNG_MODES),
        default=None,
        help="Label PNGs as 8-bit grayscale class ids (what cv2, PIL, imageio, mmcv read), with the class "
        "palette, or 16-bit grayscale (65535 unlabelled). Default: gray, or gray16 above 254 classes.",
    )
    @click.option(
        "--keep-empty",
        is_flag=True,
        help="Keep images without annotations (background scribbles only) instead of leaving them out.",
    )
    @click.option("--overwrite", is_flag=True, help="Delete what earlier builds wrote into --out first (start over).")
    @click.option("--no-progress", is_flag=True, help="Hide the progress bar (it shows only on a terminal).")
    @functools.wraps(function)
    def wrapper(**kwargs):
        return function(**kwargs)

    return wrapper


def _given(field: str) -> bool:
    """Whether the option behind SimConfig ``field`` was given on the command line."""
    option = {"background": "no_background"}.get(field, field)
    return click.get_current_context().get_parameter_source(option) == click.core.ParameterSource.COMMANDLINE


def _run_build(
    samples,
    *,
    dataset,
    split,
    default_prefix,
    class_names,
    background_split="none",
    root=None,
    source=None,
    notes=None,
    human=False,
    name_split=False,
    config_options=(),
    **options,
) -> None:
    seeds = tuple(dict.fromkeys(options["seeds"] or (1,)))  # each annotator once, in the order given
    config = SimConfig(
        width=options["width"],
        erosion_kernel=options["erosion_kernel"],
        background=not options["no_background"],
        background_split=background_split,
        **{name: options[name] for name in config_options},
    )
    if options["style"] is not None:  # the style file's fields, then the options given on the command line
        named = ("width", "erosion_kernel", "background", *config_options)
        given = {name: config.to_dict()[name] for name in named if _given(name)}
        styled = SimConfig.from_file(options["style"], config, class_names=class_names)
        config = SimConfig(**{**styled.to_dict(), **given})
    spec = BuildSpec(
        out=options["out"],
        label_png=_label_png(options["label_png"], class_names),
        split=split,
        prefix=options["prefix"] or default_prefix,
        seeds=seeds,
        config=config,
        copy_images=options["copy_images"],
        keep_empty=options["keep_empty"],
        human=human,
    )
    backend = "dask" if options["scheduler"] else options["backend"]
    with ExitStack() as stack:
        if backend == "dask":
            stack.enter_context(_dask_client(options["scheduler"], options["jobs"]))
        summary = build(
            samples,
            spec,
            dataset=dataset,
            class_names=class_names,
            jobs=options["jobs"],
            backend=backend,
            progress=not options["no_progress"],
            total=len(samples),
            source=source or (None if root is None else {"root": relative_path(root, spec.out), "split": split}),
            notes=notes,
            overwrite=options["overwrite"],
        )
    click.echo(f"{spec.out}{f' ({split})' if name_split else ''}: {summary.line(spec.seeds)}")
    if summary.images == 0:
        raise DatasetError(
            f"{spec.out}: no image built ({len(summary.skipped_images)} skipped, {len(summary.left_out)} left out; "
            "reasons in meta.json)"
        )


def _label_png(requested: str | None, class_names: Sequence[str]) -> str:
    """The label PNG mode of a build: ``requested``, or gray16 where a class id is above 254 (said)."""
    wide = default_label_png(len(class_names)) == "gray16"
    if requested is None:
        if wide:
            click.echo(f"{len(class_names) - 1} classes: 16-bit label PNGs (--label-png gray16, 65535 unlabelled)")
        return default_label_png(len(class_names))
    if wide and requested != "gray16":
        raise ConfigError(
            f"--label-png {requested}: holds class ids up to {MAX_8BIT_CLASS}, this dataset has "
            f"{len(class_names) - 1} classes; pass --label-png gray16"
        )
    return requested


def _build_registered(name: str, root: Path, split: str, **options) -> None:
    """Build ``split`` of the dataset registered as ``name`` (see :mod:`scribblesim.datasets.registry`)."""
    adapter = dataset_adapter(name)
    data = adapter.read(root, split)
    _run_build(
        data.samples,
        dataset=adapter.name,
        split=split,
        default_prefix=data.prefix,
        class_names=data.class_names,
        background_split=adapter.background_split,
        root=root,
        notes=data.notes,
        **options,
    )


def _dask_client(address: str | None, jobs: int):
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ConfigError("--backend dask needs dask.distributed: pip install 'scribblesim[dask]'") from None
    if address:
        return Client(address)
    workers = jobs if jobs > 0 else usable_cores()
    return Client(LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None))


@click.group(cls=OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="scribblesim")
def main() -> None:
    """Simulate human-like scribble annotations from instance segmentation datasets."""


@main.group("build")
def build_group() -> None:
    """Build a scribble dataset (one scribble folder per seed)."""


@build_group.command("coco")
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=None,
    help="COCO root (annotations/instances_SPLIT.json, SPLIT/). Default: the embedded sample.",
)
@click.option(
    "--split",
    default=None,
    help="Split, e.g. train2014. Default: train2017 for the embedded sample; with --annotations, the file's name "
    "(val2017 for instances_val2017.json).",
)
@click.option(
    "--annotations",
    type=click.Path(path_type=Path),
    default=None,
    help="A COCO-format instance file anywhere (LVIS, Objects365, a CVAT or Roboflow export), instead of --root.",
)
@click.option("--images", type=click.Path(path_type=Path), default=None, help="The image folder of --annotations.")
@build_options
def build_coco(root, split, annotations, images, **options) -> None:
    """Build ScribbleCOCO from COCO instance annotations: a COCO root, or any COCO-format file."""
    if annotations is not None or images is not None:
        if root is not None:
            raise click.UsageError("--root and --annotations: give one of them")
        if annotations is None or images is None:
            raise click.UsageError("--annotations and --images go together")
        _build_coco_file(annotations, images, split, **options)
        return
    if root is None:
        root, split = coco_sample_root(), split or COCO_SAMPLE_SPLIT
    _build_registered("coco", root, split or "train2014", **options)


def _build_coco_file(annotations: Path, images: Path, split: str | None, **options) -> None:
    """Build a COCO-format file anywhere: the same build as a root's ``annotations/instances_{split}.json``."""
    from ..datasets.coco import coco_file_split, coco_file_split_name

    split = split or coco_file_split_name(annotations)
    data = coco_file_split(annotations, images, split)
    out = options["out"]
    source = {"annotations": relative_path(annotations, out), "images": relative_path(images, out), "split": split}
    _run_build(
        data.samples,
        dataset="coco",
        split=split,
        default_prefix=data.prefix,
        class_names=data.class_names,
        source=source,
        notes=data.notes,
        **options,
    )


@build_group.command("cityscapes")
@click.option("--root", type=click.Path(path_type=Path), required=True, help="Cityscapes root (gtFine/, leftImg8bit/).")
@click.option("--split", default="train", show_default=True)
@build_options
def build_cityscapes(root, split, **options) -> None:
    """Build ScribbleCityscapes (8 instance classes, background split horizontally)."""
    _build_registered("cityscapes", root, split, **options)


@build_group.command("voc")
@click.option("--root", type=click.Path(path_type=Path), required=True, help="VOC root, e.g. VOCdevkit/VOC2012.")
@click.option("--split", default="train", show_default=True)
@build_options
def build_voc(root, split, **options) -> None:
    """Build scribbles from PASCAL VOC SegmentationObject + SegmentationClass PNGs."""
    _build_registered("voc", root, split, **options)


@build_group.command("acdc")
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    required=True,
    help="ScribbleACDC root: ACDC_training_volumes/*.h5 (WSL4MIS) and/or patientNNN/ NIfTI folders.",
)
@click.option(
    "--split-by",
    type=click.Choice(["patient", "slice"]),
    default="patient",
    show_default=True,
    help="Split 9:1 by patient (no patient on both sides) or by slice (the paper's random split).",
)
@click.option("--split-seed", type=SEED, default=0, show_default=True, help="Seed of the random 9:1 split.")
@click.option(
    "--val-patients",
    multiple=True,
    metavar="N[,N...]",
    help="Validation patients by number (7 or patient007; repeatable or comma-separated); the others train.",
)
@build_options
def build_acdc(root, split_by, split_seed, val_patients, **options) -> None:
    """Build ScribbleACDC: 2D slices of cardiac MRI volumes, simulated and human scribbles.

    Writes both split lists (train.txt, val.txt), the simulated sets
    {prefix}_scribble_r{seed} and the experts' scribbles as the set {prefix}_scribble_human.
    Every slice is kept (--keep-empty is implied).
    """
    from ..datasets.acdc import CLASS_NAMES, parse_patients, read_acdc, split_slices

    if val_patients and split_by == "slice":
        raise ConfigError("--val-patients: only with --split-by patient")
    data = read_acdc(root)
    named = [v for value in val_patients for v in value.split(",") if v.strip()]
    chosen = parse_patients(named, data.patients) if val_patients else None
    splits = split_slices(data.slices, by=split_by, seed=split_seed, val_patients=chosen)
    prefix = options["prefix"] or "acdc"
    record = {
        "split_by": split_by,
        "split_seed": None if chosen is not None else split_seed,
        "volume_layouts": data.layouts,
        "human_set": f"{prefix}_scribble_human" if data.human else None,
    }
    overwrite = options.pop("overwrite")
    options["keep_empty"] = True  # every slice is kept, with or without structures
    for index, (split, samples) in enumerate(splits.items()):
        patients = sorted({s.patient for s in samples})
        _run_build(
            samples,
            dataset="acdc",
            split=split,
            default_prefix="acdc",
            class_names=CLASS_NAMES,
            notes={"acdc": {**record, "patients": patients}},
            human=data.human,
            name_split=True,
            overwrite=overwrite and index == 0,  # the second split must keep the first's files
            **options,
        )


@build_group.command("folder")
@click.option(
    "--instances", type=click.Path(path_type=Path), required=True, help="Folder of instance-id PNGs (0 = background)."
)
@click.option(
    "--classes",
    "classes_file",
    type=click.Path(path_type=Path),
    required=True,
    help="JSON class table (see docs/datasets.md).",
)
@click.option("--images", type=click.Path(path_type=Path), default=None, help="Folder of images named like the PNGs.")
@click.option("--split", default="train", show_default=True)
@build_options
def build_folder(instances, classes_file, images, split, **options) -> None:
    """Build scribbles from a folder of instance-id PNGs and a class table."""
    from ..datasets.folder import folder_samples, read_class_table

    table = read_class_table(classes_file)
    samples = folder_samples(instances, table, images)
    _run_build(
        samples, dataset="folder", split=split, default_prefix=f"folder_{split}", class_names=table.names, **options
    )


@build_group.command("semantic")
@click.option(
    "--masks", type=click.Path(path_type=Path), required=True, help="Folder of class-id PNGs (0 = background)."
)
@click.option(
    "--classes",
    "classes_file",
    type=click.Path(path_type=Path),
    required=True,
    help='JSON class table, {"classes": {"1": "cat", ...}} (see docs/datasets.md).',
)
@click.option("--images", type=click.Path(path_type=Path), default=None, help="Folder of images named like the PNGs.")
@click.option(
    "--ignore",
    type=int,
    default=255,
    show_default=True,
    help='Mask value that is no class (0..255; 0 for ADE20K\'s "other", then nothing is background).',
)
@click.option(
    "--min-area",
    type=click.IntRange(min=0),
    default=SimConfig.min_area,
    show_default=True,
    help="Components of this many pixels or fewer get no stroke (recorded as too small).",
)
@click.option("--split", default="train", show_default=True)
@build_options
def build_semantic(masks, classes_file, images, ignore, min_area, split, **options) -> None:
    """Build scribbles from semantic masks: each class's connected components are its instances."""
    from ..datasets.folder import read_class_table
    from ..datasets.semantic import semantic_samples

    table = read_class_table(classes_file)
    samples = semantic_samples(masks, table, images, ignore)
    _run_build(
        samples,
        dataset="semantic",
        split=split,
        default_prefix=f"semantic_{split}",
        class_names=table.names,
        config_options=("min_area",),
        min_area=min_area,
        **options,
    )


from .analysis import degrade_command, fit_command, preview_command, stats_command  # noqa: E402
from .interchange import (  # noqa: E402
    export_group,
    import_coco_command,
    import_cvat_command,
    import_group,
    import_labelme_command,
    import_labelstudio_command,
)

for _command in (import_labelme_command, import_labelstudio_command, import_cvat_command, import_coco_command):
    import_group.add_command(_command)
for _command in (preview_command, stats_command, fit_command, degrade_command, import_group, export_group):
    main.add_command(_command)

"""``scribblesim import`` and ``scribblesim export``: scribble sets in from people and tools, and out to tools.

ScribbleSup XML and label PNGs are read by :mod:`scribblesim.sets.importers`; the
annotation tools' formats live in :mod:`scribblesim.interchange` (the ``interchange`` extra).
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import click

from ..errors import ConfigError, DatasetError
from ..sets.importers import SCRIBBLESUP_WIDTH
from .failures import OneLineErrors
from .options import SEED, SET_TAG, label_png_option

_PATH = click.Path(path_type=Path)


@click.group("import", cls=OneLineErrors)
def import_group() -> None:
    """Import human scribbles as a scribble set."""


def _import_options(function):
    function = click.option("--overwrite", is_flag=True, help="Replace an existing set with the same seed.")(function)
    function = click.option(
        "--prefix", default=None, help="Folder prefix for a new OUT (default: OUT's meta.json prefix)."
    )(function)
    function = click.option(
        "--seed",
        type=SEED,
        default=0,
        show_default=True,
        help="Annotator number: the set is {prefix}_scribble_r{seed}.",
    )(function)
    function = click.option("--out", type=_PATH, required=True, help="Build output (or new folder) to add the set to.")(
        function
    )
    return label_png_option(function)


def _run_import(run, *args, seed: int, **kwargs) -> None:
    click.echo(run(*args, seed=seed, **kwargs).line())


@import_group.command("scribblesup")
@click.argument("xml_dir", type=_PATH)
@_import_options
@click.option(
    "--width",
    type=int,
    default=SCRIBBLESUP_WIDTH,
    show_default=True,
    help="Stroke thickness in pixels, as OpenCV's (2 is about 3 px across).",
)
@click.option("--skip-unknown", is_flag=True, help="Skip polygons whose tag is not a VOC class instead of failing.")
def import_scribblesup_command(xml_dir, out, seed, prefix, overwrite, label_png, width, skip_unknown) -> None:
    """Import ScribbleSup pascal_2012 XML files (VOC class ids, background 0)."""
    from ..sets.importers import import_scribblesup

    if width < 1:
        raise ConfigError(f"--width: must be >= 1, got {width}")
    _run_import(
        import_scribblesup,
        xml_dir,
        out,
        seed=seed,
        prefix=prefix,
        width=width,
        skip_unknown=skip_unknown,
        overwrite=overwrite,
        label_png=label_png,
    )


@import_group.command("png")
@click.argument("png_dir", type=_PATH)
@_import_options
@click.option(
    "--classes",
    "classes_file",
    type=_PATH,
    default=None,
    help="JSON list of class names (index = class id) for a new OUT.",
)
def import_png_command(png_dir, out, seed, prefix, overwrite, label_png, classes_file) -> None:
    """Import scribble label PNGs (255 = unlabelled; grayscale, palette or 3 equal channels); strokes come from the pixels."""
    from ..sets.importers import import_png

    classes = None
    if classes_file is not None:
        try:
            classes = json.loads(classes_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DatasetError(f"{classes_file}: class list not found") from None
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise DatasetError(f"{classes_file}: not valid JSON ({error})") from None
        if not isinstance(classes, list) or not all(isinstance(c, str) for c in classes):
            raise DatasetError(f"{classes_file}: expected a JSON list of class names")
    _run_import(
        import_png, png_dir, out, seed=seed, prefix=prefix, classes=classes, overwrite=overwrite, label_png=label_png
    )


def _tool_import(name: str, argument: str, function: str, doc: str, annotates: str, width_help: str | None = None):
    """``scribblesim import NAME``: one tool's files into a build, by ``scribblesim.interchange.{function}``.

    Every tool's import takes the same options; ``--width`` where the tool draws lines.
    """

    def command(source, out, seed, skip_unknown, overwrite, label_png, width=None) -> None:
        module, call = function.split(":")
        run = getattr(importlib.import_module(f"..interchange.{module}", __package__), call)
        drawn = {} if width is None else {"width": width}
        summary = run(
            source, out, seed=seed, skip_unknown=skip_unknown, overwrite=overwrite, label_png=label_png, **drawn
        )
        click.echo(summary.line())

    command.__doc__ = doc
    options = [
        click.argument("source", metavar=argument.upper(), type=_PATH),
        click.option("--out", type=_PATH, required=True, help=f"The build whose images {annotates}."),
        click.option(
            "--seed",
            type=SEED,
            default=0,
            show_default=True,
            help="Annotator number: the set is {prefix}_scribble_r{seed}.",
        ),
        click.option("--skip-unknown", is_flag=True, help="Skip shapes whose label names no class of the build."),
        click.option("--overwrite", is_flag=True, help="Replace an existing set with the same seed."),
        label_png_option,
    ]
    if width_help is not None:
        options.append(
            click.option("--width", type=click.IntRange(min=1), default=2, show_default=True, help=width_help)
        )
    for option in reversed(options):
        command = option(command)
    return click.command(name)(command)


#: Thickness of the lines a tool's shapes are drawn with, as the simulator draws them.
_AS_THE_SIMULATOR = "as OpenCV's and the simulator's (2 is about 3 px across)"

import_labelme_command = _tool_import(
    "labelme",
    "json_dir",
    "labelme:import_labelme",
    "Import labelme files (linestrip, line and point shapes, labelled with class names) as a scribble set.",
    "the files annotate",
    f"Stroke thickness in pixels, {_AS_THE_SIMULATOR}.",
)
import_labelstudio_command = _tool_import(
    "labelstudio",
    "export_file",
    "labelstudio:import_labelstudio",
    "Import a Label Studio JSON export (brush, keypoint and polygon regions) as a scribble set.",
    "the tasks annotate",
    f"Thickness of keypoints and polygon outlines, {_AS_THE_SIMULATOR}; brush regions keep theirs.",
)
import_cvat_command = _tool_import(
    "cvat",
    "xml_file",
    "cvat:import_cvat",
    "Import a CVAT for images 1.1 XML file (polylines, points, masks, polygon outlines) as a scribble set.",
    "the file annotates",
    f"Thickness of polylines, points and polygon outlines, {_AS_THE_SIMULATOR}; masks keep theirs.",
)
import_coco_command = _tool_import(
    "coco",
    "annotation_file",
    "coco:import_coco",
    "Import a COCO-format file of scribbles (export coco's, or segmentations) as a scribble set.",
    "the file annotates",
)


@click.group("export", cls=OneLineErrors)
def export_group() -> None:
    """Export a scribble set for an annotation tool to open, review and correct."""


def _export(name: str, dest_help: str):
    """``scribblesim export NAME OUT --seed S --out DEST``: the arguments every export takes."""

    def decorate(command):
        command = click.option("--out", "dest", type=_PATH, required=True, help=dest_help)(command)
        command = click.option(
            "--seed", type=SET_TAG, required=True, metavar="SEED", help="Scribble set to export (1, human, ...)."
        )(command)
        return export_group.command(name)(click.argument("out", type=_PATH)(command))

    return decorate


@_export("labelme", "Folder for one labelme file per image.")
def export_labelme_command(out, seed, dest) -> None:
    """One labelme file per image: each stroke a linestrip labelled with its class, pointing at the build's image."""
    from ..interchange.labelme import export_labelme

    written = export_labelme(out, str(seed), dest)
    click.echo(f"{dest}: {written} labelme files")


@_export("labelstudio", "Folder for tasks.json and label_config.xml.")
@click.option(
    "--image-root",
    default=None,
    help="URL prefix Label Studio serves the images under (default: each image's path on this machine).",
)
def export_labelstudio_command(out, seed, dest, image_root) -> None:
    """Label Studio tasks with the set as pre-annotations (a brush region per stroke), and the labelling config."""
    from ..interchange.labelstudio import export_labelstudio

    written = export_labelstudio(out, str(seed), dest, image_root)
    click.echo(f"{dest}: {written} tasks, label_config.xml")


@_export("cvat", "The CVAT for images 1.1 XML file to write.")
def export_cvat_command(out, seed, dest) -> None:
    """One CVAT for images 1.1 XML file: each stroke a mask of its pixels, labelled with its class."""
    from ..interchange.cvat import export_cvat

    written = export_cvat(out, str(seed), dest)
    click.echo(f"{dest}: {written} images")


@_export("coco", "The COCO-format JSON file to write.")
def export_coco_command(out, seed, dest) -> None:
    """One COCO-format file: each stroke an annotation with its brush's polygon and its polyline ('scribble')."""
    from ..interchange.coco import export_coco

    written = export_coco(out, str(seed), dest)
    click.echo(f"{dest}: {written} strokes")

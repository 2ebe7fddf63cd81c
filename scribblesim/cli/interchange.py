"""``scribblesim import`` and ``scribblesim export``: scribble sets in from people and tools, and out to tools.

ScribbleSup XML and label PNGs are read by :mod:`scribblesim.sets.importers`; the
annotation tools' formats live in :mod:`scribblesim.interchange` (the ``interchange`` extra).
"""

from __future__ import annotations

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


@click.command("labelme")
@click.argument("json_dir", type=_PATH)
@click.option("--out", type=_PATH, required=True, help="The build whose images the files annotate.")
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Annotator number: the set is {prefix}_scribble_r{seed}."
)
@click.option(
    "--width",
    type=int,
    default=2,
    show_default=True,
    help="Stroke thickness in pixels, as OpenCV's and the simulator's (2 is about 3 px across).",
)
@click.option("--skip-unknown", is_flag=True, help="Skip shapes whose label names no class of the build.")
@click.option("--overwrite", is_flag=True, help="Replace an existing set with the same seed.")
@label_png_option
def import_labelme_command(json_dir, out, seed, width, skip_unknown, overwrite, label_png) -> None:
    """Import labelme files (linestrip, line and point shapes, labelled with class names) as a scribble set."""
    from ..interchange.labelme import import_labelme

    if width < 1:
        raise ConfigError(f"--width: must be >= 1, got {width}")
    summary = import_labelme(
        json_dir, out, seed=seed, width=width, skip_unknown=skip_unknown, overwrite=overwrite, label_png=label_png
    )
    click.echo(summary.line())


@click.command("labelstudio")
@click.argument("export_file", type=_PATH)
@click.option("--out", type=_PATH, required=True, help="The build whose images the tasks annotate.")
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Annotator number: the set is {prefix}_scribble_r{seed}."
)
@click.option(
    "--width",
    type=int,
    default=2,
    show_default=True,
    help="Thickness of keypoints and polygon outlines, as OpenCV's and the simulator's (brush regions keep theirs).",
)
@click.option("--skip-unknown", is_flag=True, help="Skip regions whose label names no class of the build.")
@click.option("--overwrite", is_flag=True, help="Replace an existing set with the same seed.")
@label_png_option
def import_labelstudio_command(export_file, out, seed, width, skip_unknown, overwrite, label_png) -> None:
    """Import a Label Studio JSON export (brush, keypoint and polygon regions) as a scribble set."""
    from ..interchange.labelstudio import import_labelstudio

    if width < 1:
        raise ConfigError(f"--width: must be >= 1, got {width}")
    summary = import_labelstudio(
        export_file, out, seed=seed, width=width, skip_unknown=skip_unknown, overwrite=overwrite, label_png=label_png
    )
    click.echo(summary.line())


@click.command("cvat")
@click.argument("xml_file", type=_PATH)
@click.option("--out", type=_PATH, required=True, help="The build whose images the file annotates.")
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Annotator number: the set is {prefix}_scribble_r{seed}."
)
@click.option(
    "--width",
    type=int,
    default=2,
    show_default=True,
    help="Thickness of polylines, points and polygon outlines, as OpenCV's and the simulator's (masks keep theirs).",
)
@click.option("--skip-unknown", is_flag=True, help="Skip shapes whose label names no class of the build.")
@click.option("--overwrite", is_flag=True, help="Replace an existing set with the same seed.")
@label_png_option
def import_cvat_command(xml_file, out, seed, width, skip_unknown, overwrite, label_png) -> None:
    """Import a CVAT for images 1.1 XML file (polylines, points, masks, polygon outlines) as a scribble set."""
    from ..interchange.cvat import import_cvat

    if width < 1:
        raise ConfigError(f"--width: must be >= 1, got {width}")
    summary = import_cvat(
        xml_file, out, seed=seed, width=width, skip_unknown=skip_unknown, overwrite=overwrite, label_png=label_png
    )
    click.echo(summary.line())


@click.command("coco")
@click.argument("annotation_file", type=_PATH)
@click.option("--out", type=_PATH, required=True, help="The build whose images the file annotates.")
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="Annotator number: the set is {prefix}_scribble_r{seed}."
)
@click.option("--skip-unknown", is_flag=True, help="Skip annotations whose category names no class of the build.")
@click.option("--overwrite", is_flag=True, help="Replace an existing set with the same seed.")
@label_png_option
def import_coco_command(annotation_file, out, seed, skip_unknown, overwrite, label_png) -> None:
    """Import a COCO-format file of scribbles (export coco's, or segmentations) as a scribble set."""
    from ..interchange.coco import import_coco

    summary = import_coco(
        annotation_file, out, seed=seed, skip_unknown=skip_unknown, overwrite=overwrite, label_png=label_png
    )
    click.echo(summary.line())


@click.group("export", cls=OneLineErrors)
def export_group() -> None:
    """Export a scribble set for an annotation tool to open, review and correct."""


@export_group.command("labelme")
@click.argument("out", type=_PATH)
@click.option("--seed", type=SET_TAG, required=True, metavar="SEED", help="Scribble set to export (1, human, ...).")
@click.option("--out", "dest", type=_PATH, required=True, help="Folder for one labelme file per image.")
def export_labelme_command(out, seed, dest) -> None:
    """One labelme file per image: each stroke a linestrip labelled with its class, pointing at the build's image."""
    from ..interchange.labelme import export_labelme

    written = export_labelme(out, str(seed), dest)
    click.echo(f"{dest}: {written} labelme files")


@export_group.command("labelstudio")
@click.argument("out", type=_PATH)
@click.option("--seed", type=SET_TAG, required=True, metavar="SEED", help="Scribble set to export (1, human, ...).")
@click.option("--out", "dest", type=_PATH, required=True, help="Folder for tasks.json and label_config.xml.")
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


@export_group.command("cvat")
@click.argument("out", type=_PATH)
@click.option("--seed", type=SET_TAG, required=True, metavar="SEED", help="Scribble set to export (1, human, ...).")
@click.option("--out", "dest", type=_PATH, required=True, help="The CVAT for images 1.1 XML file to write.")
def export_cvat_command(out, seed, dest) -> None:
    """One CVAT for images 1.1 XML file: each stroke a mask of its pixels, labelled with its class."""
    from ..interchange.cvat import export_cvat

    written = export_cvat(out, str(seed), dest)
    click.echo(f"{dest}: {written} images")


@export_group.command("coco")
@click.argument("out", type=_PATH)
@click.option("--seed", type=SET_TAG, required=True, metavar="SEED", help="Scribble set to export (1, human, ...).")
@click.option("--out", "dest", type=_PATH, required=True, help="The COCO-format JSON file to write.")
def export_coco_command(out, seed, dest) -> None:
    """One COCO-format file: each stroke an annotation with its brush's polygon and its polyline ('scribble')."""
    from ..interchange.coco import export_coco

    written = export_coco(out, str(seed), dest)
    click.echo(f"{dest}: {written} strokes")

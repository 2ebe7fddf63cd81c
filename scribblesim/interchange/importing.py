"""What every tool's import shares: labels to class ids, and a set written from the images that
read well, each one that does not named on a line of its own."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from ..engine.result import label_dtype, unlabelled_value
from ..engine.vectorise import vectorise
from ..errors import DatasetError
from ..sets.importers import ImportSummary, class_tags, tag_key
from ..sets.layout import Layout, read_meta, stroke_record
from ..sets.scribble_set import check_target, label_png_mode, read_label_map, write_set


class ClassLabels:
    """A build's classes, as the labels of a tool's shapes name them (case, spaces, ``_``, ``-`` aside)."""

    def __init__(self, out: Path, skip_unknown: bool) -> None:
        if not Layout(out).meta.is_file():
            raise DatasetError(f"{out}: no meta.json; import into a build, whose class names the labels name")
        self.meta = read_meta(out)
        self.tags = class_tags(self.meta["classes"])
        #: The dtype of the label maps drawn for the build's classes, and their unlabelled value.
        self.dtype = label_dtype(len(self.meta["classes"]) - 1)
        self.unlabelled = unlabelled_value(self.dtype)
        self.skip_unknown = skip_unknown

    def class_id(self, label: str, where: str) -> int | None:
        """The class ``label`` names; None to skip the shape (``--skip-unknown``).

        Raises
        ------
        DatasetError
            If it names no class and unknown labels are not skipped.
        """
        found = self.tags.get(tag_key(label))
        if found is None and not self.skip_unknown:
            raise DatasetError(f"{where}: label {label!r} names no class of the build (or --skip-unknown)")
        return found


def check_image(out: Path, name: str, shape: tuple[int, int] | None, where: str) -> np.ndarray:
    """The build's ground truth of image ``name``, which an import's ``shape`` (H, W), if given, must match.

    Raises
    ------
    DatasetError
        If the build has no image ``name``, or it is of another size.
    """
    path = Layout(out).ground_truth(name)
    if not path.is_file():
        raise DatasetError(f"{where}: image {name!r} is not in {out}")
    truth = read_label_map(path)
    if shape is not None and truth.shape != tuple(shape):
        raise DatasetError(
            f"{where}: image {name!r} is {shape[1]}x{shape[0]}, the build's is {truth.shape[1]}x{truth.shape[0]}"
        )
    return truth


def write_imported(
    out: Path,
    seed: int,
    maps: Mapping[str, np.ndarray],
    refused: list[str],
    *,
    source: str,
    overwrite: bool,
    label_png: str | None,
    strokes: Mapping[str, list] | None = None,
) -> ImportSummary:
    """Write the images that read well as scribble set ``seed`` of ``out``, then name each refused one.

    ``strokes`` gives the polylines an image's shapes were drawn from; an image without
    them gets its strokes from its pixels (:func:`~scribblesim.engine.vectorise.vectorise`).
    Each refusal is a ``warning:`` line of its own (it names the file, and the image where
    a file holds several).

    Raises
    ------
    DatasetError
        After writing, if anything was refused (the command exits non-zero); before it, if
        nothing read well or the set exists.
    """
    if not maps and not refused:
        raise DatasetError(f"{out}: nothing to import (no image has an annotation)")
    if not maps:
        raise DatasetError(
            refused[0] if len(refused) == 1 else f"nothing imported: {len(refused)} refused ({refused[0]}; ...)"
        )
    meta = read_meta(out)
    check_target(out, meta["prefix"], str(seed), overwrite)
    mode = label_png_mode(out, label_png, classes=len(meta["classes"]))
    count = 0

    def items():
        nonlocal count
        for name, label_map in maps.items():
            found = strokes[name] if strokes is not None and name in strokes else vectorise(label_map)
            count += len(found)
            yield name, label_map, stroke_record(name, found, source=source)

    written = write_set(out, meta["prefix"], str(seed), items(), label_png=mode)
    summary = ImportSummary(written, len(maps), count)
    for reason in refused:
        warnings.warn(reason, stacklevel=1)
    if refused:
        raise DatasetError(f"{summary.line()}; {len(refused)} refused (above)")
    return summary

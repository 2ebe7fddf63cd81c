"""Where the objects (instance masks, classes, ignore) of a build output's images come from.

Objects of a build output (``scribblesim stats OUT``) come, in order of preference, from

1. the dataset itself, re-read with the adapter named by ``meta.json``'s ``dataset``
   (coco, voc, cityscapes) from ``--root``/``--split`` or from ``meta.json``'s
   ``"source": {"root": ..., "split": ...}`` (a root relative to the output folder), or
   for a COCO-format file built with ``--annotations``, ``{"annotations": ..., "images": ...}``:
   true instances, exactly those the simulation saw;
2. otherwise the connected components (8-connected) of each class in the dense ground
   truth ``SegmentationClassAug`` (255 = ignore). Touching objects of one class then
   count as one object, so this is an approximation, recorded as ``"objects":
   "components"`` in the summary.

The build output alone cannot give instances back (the dense ground truth merges them),
which is why the dataset is re-read when it can be. A dataset whose instances *are* the
components of its ground truth (ScribbleACDC, see
:data:`~scribblesim.datasets.registry.COMPONENT_INSTANCES`) needs no root: its build's
ground truth gives them back exactly (``"objects": "dataset"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..datasets.base import class_components
from ..datasets.human import HumanExample
from ..datasets.registry import COMPONENT_INSTANCES, dataset_adapter
from ..engine.result import UNLABELLED, unlabelled_value
from ..errors import ConfigError, DatasetError
from ..sets.layout import Layout, read_meta, split_list_name, split_list_path
from ..sets.scribble_set import read_label_map
from .metrics import visible_owner


@dataclass(frozen=True)
class ImageObjects:
    """The objects of one image: masks (N, H, W), classes (N,), ignore (H, W)."""

    masks: np.ndarray
    classes: np.ndarray
    ignore: np.ndarray


def components_as_objects(semantic: np.ndarray) -> ImageObjects:
    """Objects of a dense ground truth: 8-connected components of each class; 255 (uint16: 65535) = ignore.

    The same objects as a ScribbleACDC build scribbles (see :func:`~scribblesim.datasets.base.class_components`).
    """
    ignore = unlabelled_value(semantic.dtype)
    masks, classes = class_components(semantic, (0, ignore))
    return ImageObjects(masks, classes, semantic == ignore)


class ComponentObjects:
    """Objects from ``OUT/SegmentationClassAug`` (connected components of each class).

    ``exact``: the dataset's instances are those components (kind ``"dataset"``).
    """

    kind = "components"

    def __init__(self, out: Path, exact: bool = False):
        if exact:
            self.kind = "dataset"
        self.folder = Layout(out).ground_truth_dir
        if not self.folder.is_dir():
            raise DatasetError(f"{self.folder}: dense ground truth folder not found")

    def __call__(self, name: str) -> ImageObjects:
        return components_as_objects(read_label_map(self.folder / f"{name}.png"))


class DatasetObjects:
    """True instances, re-read from the dataset the build came from."""

    kind = "dataset"

    def __init__(self, samples: Sequence, where: str):
        self.where = where
        self.samples = {s.name: s for s in samples}

    @classmethod
    def of_root(cls, dataset: str, root: Path, split: str) -> DatasetObjects:
        """The instances of ``split`` under a dataset's ``root``, read by its registered adapter."""
        return cls(dataset_adapter(dataset, "--root").samples(Path(root), split), f"{root} ({split})")

    @classmethod
    def of_coco_file(cls, annotation_file: Path, images: Path) -> DatasetObjects:
        """The instances of a COCO-format file anywhere (``build coco --annotations``)."""
        from ..datasets.coco import coco_file_samples

        return cls(coco_file_samples(annotation_file, images), str(annotation_file))

    def __call__(self, name: str) -> ImageObjects:
        if name not in self.samples:
            raise DatasetError(f"{self.where}: no image {name!r} in the dataset")
        loaded = self.samples[name].load()
        return ImageObjects(loaded.masks, loaded.classes, loaded.ignore)


def object_source(out: Path, root: Path | None = None, split: str | None = None):
    """How to get each image's objects (see the module docstring): dataset if known, else components."""
    meta = read_meta(out)
    if meta.get("dataset") in COMPONENT_INSTANCES:
        if root is not None:
            raise ConfigError(
                f"--root: the instances of a {meta['dataset']!r} build are its ground truth's components; pass no --root"
            )
        return ComponentObjects(out, exact=True)
    source: dict = meta["source"] if isinstance(meta.get("source"), dict) else {}
    if root is None and isinstance(source.get("annotations"), str) and isinstance(source.get("images"), str):
        return DatasetObjects.of_coco_file(Path(out) / source["annotations"], Path(out) / source["images"])
    if root is None and isinstance(source.get("root"), str):
        root = Path(out) / source["root"]  # recorded relative to OUT (an absolute one stays)
    if root is None:
        return ComponentObjects(out)
    splits = list(meta.get("splits", {}))
    if split is not None and split not in splits:  # a role name (train, val) stands for its real split
        split = next((s for s in splits if f"{split}.txt" == split_list_name(s) == split_list_name(split)), split)
    split = split or source.get("split") or (splits[0] if len(splits) == 1 else None)
    if split is None:
        raise DatasetError(f"{Layout(out).meta}: several or no splits {splits}; pass --split")
    return DatasetObjects.of_root(str(meta.get("dataset")), Path(root), split)


def human_examples_from_build(
    out: Path, scribble_dirs: Sequence[Path], root: Path | None = None, split: str | None = None
) -> list[HumanExample]:
    """Human examples of a build output's images, one annotator per folder of scribble label PNGs.

    Each folder holds ``{id}.png`` class label maps (255 unlabelled, 0 background), as a
    build's or an imported scribble set; the images found in every folder are taken, and
    with ``split`` only those of the build's list of that split (``train``, ``val`` or the
    real split's name). An object's scribble is the pixels of its own class on it, and its
    instances come from :func:`object_source` (``root``, ``split``).
    """
    folders = [Path(d) for d in scribble_dirs]
    for folder in folders:
        if not folder.is_dir():
            raise DatasetError(f"{folder}: scribble folder not found")
    found_names = set.intersection(*({p.stem for p in folder.glob("*.png")} for folder in folders))
    if not found_names:
        raise DatasetError(f"{folders[0]}: no {{id}}.png found in every scribble folder")
    if split is not None:
        listed = split_list_path(out, split)
        found_names &= set(listed.read_text(encoding="utf-8").split())
        if not found_names:
            raise DatasetError(f"{listed}: none of its images has an {{id}}.png in every scribble folder")
    names = sorted(found_names)
    objects = object_source(out, root, split)
    source = str(read_meta(out).get("dataset", Path(out).name))
    examples = []
    for name in names:
        found = objects(name)
        owner = visible_owner(found.masks, found.ignore)
        if owner.max() >= UNLABELLED - 1:
            raise DatasetError(f"{name}: more than {UNLABELLED - 1} objects, more than a human example holds")
        truth = np.where(found.ignore, UNLABELLED, owner + 1).astype(np.uint8)
        own_class = np.append(found.classes, -1)[owner]  # -1 where no object owns the pixel
        maps = []
        for folder in folders:
            labels = read_label_map(folder / f"{name}.png")
            if labels.shape != truth.shape:
                raise DatasetError(f"{folder / name}.png: size {labels.shape} differs from the image's {truth.shape}")
            human = np.where(labels == 0, 0, UNLABELLED).astype(np.uint8)
            mine = labels == own_class
            human[mine] = truth[mine]
            maps.append(human)
        examples.append(HumanExample(source, name, truth, tuple(maps), tuple(int(c) for c in found.classes)))
    return examples

"""Any instance dataset: a folder of instance-id PNGs plus a JSON class table.

Each PNG holds one integer id per pixel, 0 = background. The class table is::

    {"classes": {"1": "cat", "2": "dog"},          class id (1..254) -> name
     "instances": {"1": 1, "2": 2},                instance id -> class id, for every image
     "images": {"img_001": {"1": 2, "3": 1}}}      optional per-image tables (override)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..engine.simulate import semantic_map
from ..errors import DatasetError
from .base import LoadedSample, masks_from_ids, read_json, read_png

_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class ClassTable:
    """Class names and instance-id -> class-id tables.

    ``names`` runs from background (0) to the largest id, an id the table skips named
    ``class_{id}``; ``class_ids`` are the ids the table gives.
    """

    path: Path
    names: list[str]
    instances: dict[int, int]
    images: dict[str, dict[int, int]] = field(default_factory=dict)
    class_ids: frozenset[int] = frozenset()

    def for_image(self, name: str) -> dict[int, int]:
        """The instance table that applies to image ``name``."""
        return self.images.get(name, self.instances)


def _int_table(raw, path: Path, what: str) -> dict[int, int]:
    if not isinstance(raw, dict):
        raise DatasetError(f"{path}: '{what}' must be an object mapping ids to class ids")
    try:
        return {int(k): int(v) for k, v in raw.items()}
    except (TypeError, ValueError):
        raise DatasetError(f"{path}: '{what}' must map integer ids to integer class ids") from None


def read_class_table(path: Path) -> ClassTable:
    """Read and check a class table (see the module docstring)."""
    path = Path(path)
    data = read_json(path, "class table not found")
    if not isinstance(data, dict) or not isinstance(data.get("classes"), dict):
        raise DatasetError(f"{path}: expected an object with a 'classes' table")
    try:
        classes = {int(k): str(v) for k, v in data["classes"].items()}
    except ValueError:
        raise DatasetError(f"{path}: 'classes' keys must be integer class ids") from None
    bad = sorted(k for k in classes if not 1 <= k <= 254)
    if bad:
        raise DatasetError(f"{path}: class ids must lie in 1..254, got {bad}")
    instances = _int_table(data.get("instances", {}), path, "instances")
    images = {str(k): _int_table(v, path, f"images.{k}") for k, v in data.get("images", {}).items()}
    for table in [instances, *images.values()]:
        unknown = sorted(set(table.values()) - set(classes))
        if unknown:
            raise DatasetError(f"{path}: unknown class ids {unknown} (not in 'classes')")
    names = ["background"] + [classes.get(k, f"class_{k}") for k in range(1, max(classes, default=0) + 1)]
    return ClassTable(path, names, instances, images, frozenset(classes))


@dataclass(frozen=True)
class FolderSample:
    """One instance-id PNG, its class table and its image (if any)."""

    name: str
    instance_png: Path
    table: dict[int, int]
    table_path: Path
    image_path: Path | None

    def load(self) -> LoadedSample:
        """Decode the ids into masks with classes from the table."""
        ids = read_png(self.instance_png).astype(np.int64)
        if ids.ndim != 2:
            raise DatasetError(f"{self.instance_png}: expected a single-channel instance-id PNG")
        values = [int(v) for v in np.unique(ids) if v != 0]
        unknown = [v for v in values if v not in self.table]
        if unknown:
            raise DatasetError(f"{self.instance_png}: instance ids {unknown} have no class in {self.table_path}")
        masks = masks_from_ids(ids, values)
        classes = np.array([self.table[v] for v in values], dtype=np.int64)
        semantic = semantic_map(masks, classes) if values else np.zeros(ids.shape, np.uint8)
        return LoadedSample(self.name, self.name, masks, classes, np.zeros(ids.shape, bool), semantic, self.image_path)


def folder_samples(instances_dir: Path, table: ClassTable, images_dir: Path | None = None) -> list[FolderSample]:
    """One sample per PNG in ``instances_dir``, sorted by name."""
    instances_dir = Path(instances_dir)
    if not instances_dir.is_dir():
        raise DatasetError(f"{instances_dir}: instance folder not found")
    if images_dir is not None and not Path(images_dir).is_dir():
        raise DatasetError(f"{images_dir}: image folder not found")
    pngs = sorted(instances_dir.glob("*.png"))
    if not pngs:
        raise DatasetError(f"{instances_dir}: no instance-id PNGs")
    return [
        FolderSample(png.stem, png, table.for_image(png.stem), table.path, image_for(images_dir, png.stem))
        for png in pngs
    ]


def image_for(images_dir: Path | None, stem: str) -> Path | None:
    """The image of ``stem`` in ``images_dir`` (``.jpg``, ``.jpeg`` or ``.png``; the first if none is there)."""
    if images_dir is None:
        return None
    found = [Path(images_dir) / f"{stem}{suffix}" for suffix in _IMAGE_SUFFIXES]
    return next((p for p in found if p.is_file()), found[0])

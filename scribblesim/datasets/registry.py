"""The datasets scribblesim reads from a root folder and a split, by the name ``meta.json`` records.

Each entry says how to list a split's samples and how its background is scribbled, so
that ``build`` and ``stats --root`` (which re-reads a build's true instances) agree.
Adapters are imported when first used. ``folder`` builds read a class table as well and
are not re-read by name.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from ..engine.config import BackgroundSplit
from ..errors import DatasetError


@dataclass(frozen=True)
class DatasetAdapter:
    """A dataset read from ``root`` and ``split``.

    ``module`` and ``function`` name the sample lister, ``(root, split) -> samples``;
    ``background_split`` is how its background is scribbled (Cityscapes: ``horizontal``).
    """

    name: str
    module: str
    function: str
    background_split: BackgroundSplit = "none"

    def samples(self, root: Path, split: str) -> Sequence:
        """Every sample of ``split`` under ``root``, in file order."""
        lister: Callable[[Path, str], Sequence] = getattr(import_module(self.module, __package__), self.function)
        return lister(Path(root), split)


DATASETS: dict[str, DatasetAdapter] = {
    adapter.name: adapter
    for adapter in (
        DatasetAdapter("coco", ".coco", "coco_samples"),
        DatasetAdapter("cityscapes", ".cityscapes", "cityscapes_samples", background_split="horizontal"),
        DatasetAdapter("voc", ".voc", "voc_samples"),
    )
}


def dataset_adapter(name: str, option: str = "dataset") -> DatasetAdapter:
    """The adapter registered as ``name``; a one-line :class:`DatasetError` names the known ones."""
    if name not in DATASETS:
        raise DatasetError(f"{option}: cannot re-read instances of a {name!r} build ({', '.join(DATASETS)} only)")
    return DATASETS[name]

"""The datasets scribblesim reads from a root folder and a split, by the name ``meta.json`` records.

Each entry says how to read a split for a build (:meth:`DatasetAdapter.read`), how to
list its samples and how its background is scribbled, so that ``build`` and ``stats
--root`` (which re-reads a build's true instances) agree. Adapters are imported when
first used. ``folder`` builds read a class table as well and are not re-read by name.
ScribbleACDC and semantic-mask builds are no entries: their instances are the components
of their ground truth (:data:`COMPONENT_INSTANCES`), which the build output holds, so
nothing is re-read.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import import_module
from pathlib import Path

from ..engine.config import BackgroundSplit
from ..errors import DatasetError
from .base import DatasetSplit


@dataclass(frozen=True)
class DatasetAdapter:
    """A dataset read from ``root`` and ``split``.

    ``module`` and ``function`` name the sample lister, ``(root, split) -> samples``;
    ``background_split`` is how its background is scribbled (Cityscapes: ``horizontal``).
    ``reader``, if given, names the module's ``(root, split) ->`` :class:`DatasetSplit`
    for a build, for a dataset whose file holds its classes or more than its samples
    (COCO); without it a build reads the samples and the module's ``CLASS_NAMES``.
    """

    name: str
    module: str
    function: str
    background_split: BackgroundSplit = "none"
    reader: str | None = None

    def samples(self, root: Path, split: str) -> Sequence:
        """Every sample of ``split`` under ``root``, in file order."""
        lister: Callable[[Path, str], Sequence] = getattr(import_module(self.module, __package__), self.function)
        return lister(Path(root), split)

    def read(self, root: Path, split: str) -> DatasetSplit:
        """What a build of ``split`` under ``root`` needs: samples, class names, prefix, notes.

        Raises
        ------
        DatasetError
            If the root or a file the whole split depends on is missing or malformed.
        """
        module = import_module(self.module, __package__)
        if self.reader is not None:
            reader: Callable[[Path, str], DatasetSplit] = getattr(module, self.reader)
            return reader(Path(root), split)
        return DatasetSplit(self.samples(root, split), module.CLASS_NAMES, f"{self.name}_{split}")


DATASETS: dict[str, DatasetAdapter] = {
    adapter.name: adapter
    for adapter in (
        DatasetAdapter("coco", ".coco", "coco_samples", reader="coco_split"),
        DatasetAdapter("cityscapes", ".cityscapes", "cityscapes_samples", background_split="horizontal"),
        DatasetAdapter("voc", ".voc", "voc_samples"),
    )
}


#: Datasets whose instances are the 8-connected components of each class of their dense
#: ground truth (:func:`~scribblesim.datasets.base.class_components`): a build's
#: ``SegmentationClassAug`` gives them back exactly, with no dataset root.
COMPONENT_INSTANCES = frozenset({"acdc", "semantic"})


def dataset_adapter(name: str, option: str = "dataset") -> DatasetAdapter:
    """The adapter registered as ``name``; a one-line :class:`DatasetError` names the known ones."""
    if name not in DATASETS:
        raise DatasetError(f"{option}: cannot re-read instances of a {name!r} build ({', '.join(DATASETS)} only)")
    return DATASETS[name]

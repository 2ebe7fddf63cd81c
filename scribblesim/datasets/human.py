"""Human scribbles with their ground truth, for measuring and fitting scribble style.

Layout (one folder per example; a root holds one folder per source)::

    {source}/{example}/gt.png         uint8: 0 background, k = object k (1..K), 255 = unknown band
    {source}/{example}/human_{a}.png  uint8: 255 unlabelled, 0 background, k = annotator a's scribble on object k

Objects are the ground truth's ids 1..254; the unknown band belongs to none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from ..engine.result import UNLABELLED
from ..errors import DatasetError
from .base import masks_from_ids, read_png

TRUTH_FILE = "gt.png"
HUMAN_GLOB = "human_*.png"


@dataclass(frozen=True, eq=False)
class HumanExample:
    """One example: its ground truth and each annotator's scribble label map."""

    source: str
    name: str
    truth: np.ndarray
    scribbles: tuple[np.ndarray, ...]
    #: The class of each object (``classes[k - 1]`` of object ``k``), where the source knows them.
    classes: tuple[int, ...] = ()

    def of_class(self, label: int) -> HumanExample:
        """This example with the objects of class ``label`` alone; the others become unknown band."""
        others = [k + 1 for k, c in enumerate(self.classes) if c != label]
        hidden = np.isin(self.truth, others)
        scribbles = tuple(np.where(hidden, UNLABELLED, s).astype(np.uint8) for s in self.scribbles)
        return HumanExample(
            self.source, self.name, np.where(hidden, UNLABELLED, self.truth).astype(np.uint8), scribbles, self.classes
        )

    @cached_property
    def object_ids(self) -> list[int]:
        """Ids of the objects in the ground truth, in increasing order."""
        return [int(k) for k in np.unique(self.truth) if 0 < k < UNLABELLED]

    @cached_property
    def masks(self) -> np.ndarray:
        """(N, H, W) bool masks of :attr:`object_ids` (the unknown band lies in none)."""
        return masks_from_ids(self.truth, self.object_ids)

    @cached_property
    def ignore(self) -> np.ndarray:
        """The unknown band: neither background nor an object."""
        return self.truth == UNLABELLED


def _read_example(source: str, folder: Path) -> HumanExample:
    truth = read_png(folder / TRUTH_FILE, modes=("L", "P")).astype(np.uint8)
    paths = sorted(folder.glob(HUMAN_GLOB))
    if not paths:
        raise DatasetError(f"{folder}: no {HUMAN_GLOB} next to {TRUTH_FILE}")
    scribbles = tuple(read_png(p, modes=("L", "P")).astype(np.uint8) for p in paths)
    for path, scribble in zip(paths, scribbles):
        if scribble.shape != truth.shape:
            raise DatasetError(f"{path}: size {scribble.shape} differs from {TRUTH_FILE}'s {truth.shape}")
    return HumanExample(source, folder.name, truth, scribbles)


def _example_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if (p / TRUTH_FILE).is_file())


def read_human_examples(folder: Path) -> list[HumanExample]:
    """Every example under ``folder``: a root of source folders, or one source folder.

    Raises
    ------
    DatasetError
        One line naming the folder or file that is missing or unreadable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DatasetError(f"{folder}: human scribble folder not found")
    if _example_dirs(folder):
        sources = [folder]
    else:
        sources = sorted(p for p in folder.iterdir() if p.is_dir() and _example_dirs(p))
    if not sources:
        raise DatasetError(f"{folder}: no {{example}}/{TRUTH_FILE} with {HUMAN_GLOB} (see docs/scribble-styles.md)")
    return [_read_example(source.name, example) for source in sources for example in _example_dirs(source)]

"""The rows of the learning benchmark and the build and labels each one trains on."""

from __future__ import annotations

from pathlib import Path

from csptrain.data.layout import read_split, scribble_folder
from csptrain.errors import ConfigError
from scribblesim.sets.layout import GROUND_TRUTH_DIR

#: Where each row's labels come from: the dense ground truth or a scribble set's role.
ROWS: dict[str, str] = {
    "full": "dense",
    "pce-human": "human",
    "pce-sim": "sim",
    "pce-fitted": "fitted",
    "cspnet-human": "human",
    "cspnet-sim": "sim",
}
#: The rows run when none are named.
DEFAULT_ROWS = ("full", "pce-human", "pce-sim")


def row_source(data: Path, row: str, sets: dict[str, tuple[Path, str]]) -> tuple[Path, str]:
    """The build a row trains on and its label folder there.

    Parameters
    ----------
    data
        The build every row is evaluated on (its ground truth trains the ``full`` row).
    row
        A key of :data:`ROWS`.
    sets
        A role (``human``, ``sim``, ``fitted``) mapped to its build and scribble set (a seed
        or ``human``); a build other than ``data`` (a fitted style is built into a folder of
        its own) must hold the same slices and splits.

    Returns
    -------
    tuple of Path and str
        The build and its label folder: the dense ground truth or the set's scribble folder.

    Raises
    ------
    ConfigError
        The row's role has no set, or its build's splits are not ``data``'s.
    """
    role = ROWS[row]
    if role == "dense":
        return data, GROUND_TRUTH_DIR
    if role not in sets:
        raise ConfigError(f"--rows {row}: give the build of its scribbles with --{role}")
    build, tag = sets[role]
    for split in ("train", "val"):
        if Path(build).resolve() != Path(data).resolve() and read_split(build, split) != read_split(data, split):
            raise ConfigError(f"--{role} {build}: its {split} split is not --data's (build it with the same split)")
    return build, scribble_folder(build, "train", tag)


def simulated_row(row: str, tag: str) -> str:
    """The name of a ``*-sim`` row trained on simulated set ``tag`` where there are several: ``pce-s2``."""
    return row.removesuffix("-sim") + f"-s{tag}"


def row_sources(
    data: Path, rows: list[str], sets: dict[str, tuple[Path, str]], sim_tags: list[str]
) -> dict[str, tuple[Path, str]]:
    """Every row's build and label folder (see :func:`row_source`), a ``*-sim`` row once per simulated set.

    With one tag in ``sim_tags`` a ``*-sim`` row keeps its name; with several it becomes one
    row per set, named by :func:`simulated_row` (the paper's annotators s1, s2, s3).
    """
    sources = {}
    for row in rows:
        if ROWS[row] != "sim":
            sources[row] = row_source(data, row, sets)
            continue
        for tag in sim_tags:
            name = row if len(sim_tags) == 1 else simulated_row(row, tag)
            sources[name] = row_source(data, row, {**sets, "sim": (data, tag)})
    return sources

"""Simulate human-like scribble annotations from instance masks.

>>> import scribblesim
>>> smap = scribblesim.simulate(masks, classes, seed=1, image_id=0)  # doctest: +SKIP

The names below are imported from :mod:`scribblesim.engine` when first used, so that
importing the package (as the command line does before anything else) costs nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .engine import (
        BACKGROUND,
        UNLABELLED,
        UNLABELLED_16,
        ScribbleMap,
        SimConfig,
        Skip,
        Stroke,
        label_dtype,
        semantic_map,
        simulate,
        simulate_seeds,
        unlabelled_value,
    )

__version__ = "0.1.0"

__all__ = [
    "BACKGROUND",
    "UNLABELLED",
    "UNLABELLED_16",
    "ScribbleMap",
    "SimConfig",
    "Skip",
    "Stroke",
    "label_dtype",
    "semantic_map",
    "simulate",
    "simulate_seeds",
    "unlabelled_value",
    "__version__",
]


def __getattr__(name: str):
    """The engine's public names (see ``__all__``), imported when first used."""
    if name in __all__:
        from . import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'scribblesim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))

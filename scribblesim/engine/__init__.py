"""The simulation engine: :func:`simulate` and its steps (pure functions of masks and a seed).

Nothing here reads or writes files; datasets feed it and sets write what it returns.
"""

from .config import SimConfig
from .result import BACKGROUND, UNLABELLED, UNLABELLED_16, ScribbleMap, Skip, Stroke, label_dtype, unlabelled_value
from .simulate import semantic_map, simulate, simulate_seeds

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
]

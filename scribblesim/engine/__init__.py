"""The simulation engine: :func:`simulate` and its steps (pure functions of masks and a seed).

Nothing here reads or writes files; datasets feed it and sets write what it returns.
"""

from .config import SimConfig
from .result import BACKGROUND, UNLABELLED, ScribbleMap, Skip, Stroke
from .simulate import semantic_map, simulate, simulate_seeds

__all__ = [
    "BACKGROUND",
    "UNLABELLED",
    "ScribbleMap",
    "SimConfig",
    "Skip",
    "Stroke",
    "semantic_map",
    "simulate",
    "simulate_seeds",
]

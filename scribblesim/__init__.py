"""Simulate human-like scribble annotations from instance masks.

>>> import scribblesim
>>> smap = scribblesim.simulate(masks, classes, seed=1, image_id=0)  # doctest: +SKIP
"""

from .engine import BACKGROUND, UNLABELLED, ScribbleMap, SimConfig, Skip, Stroke, semantic_map, simulate, simulate_seeds

__version__ = "0.1.0"

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
    "__version__",
]

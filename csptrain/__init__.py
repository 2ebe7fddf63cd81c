"""CSPNet trainer: stage 1 (scribble-promoted ToCo, pseudo-labels), stage 2 (DeepLabV3+ with
LoRM and DPM), evaluation, and the ``csptrain run`` pipeline over seeds.

Reads the dataset layout that ``scribblesim build`` writes. Needs the ``train`` extra
(torch, torchvision, timm).
"""

from importlib.metadata import version

__version__ = version("scribblesim")  # one distribution, one version (pyproject reads scribblesim's)

__all__ = ["SegmentationModel", "__version__", "load_model"]


def __getattr__(name: str):
    """``csptrain.load_model`` and ``SegmentationModel``, imported when first used (they need torch;
    ``csptrain --help`` does not)."""
    if name in ("load_model", "SegmentationModel"):
        from .inference import predictor

        return getattr(predictor, name)
    raise AttributeError(f"module 'csptrain' has no attribute {name!r}")

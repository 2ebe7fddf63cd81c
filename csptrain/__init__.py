"""CSPNet trainer: stage 2 (DeepLabV3+ with LoRM and DPM) and evaluation.

Reads the dataset layout that ``scribblesim build`` writes. Needs the ``train`` extra
(torch, torchvision, timm).
"""

__version__ = "0.1.0"

"""CSPNet trainer: stage 1 (scribble-promoted ToCo, pseudo-labels), stage 2 (DeepLabV3+ with
LoRM and DPM), evaluation, and the ``csptrain run`` pipeline over seeds.

Reads the dataset layout that ``scribblesim build`` writes. Needs the ``train`` extra
(torch, torchvision, timm).
"""

from importlib.metadata import version

__version__ = version("scribblesim")  # one distribution, one version (pyproject reads scribblesim's)

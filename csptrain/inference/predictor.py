"""A trained stage-2 model as a tool: load a checkpoint, segment images (arrays in, class ids out).

>>> model = csptrain.load_model(checkpoint)  # a stage-2 run's checkpoint  # doctest: +SKIP
>>> labels = model.predict(image)  # (H, W) uint8 class ids of an (H, W, 3) RGB or (H, W) gray image

Predictions go through the evaluation's own code (:func:`~csptrain.stage2.evaluate.predict_with`)
on the image normalised as evaluation normalises it, so a prediction under a protocol is
the one ``csptrain eval`` scores under that protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import overload

import numpy as np
import torch

from ..data.labels import class_map_dtype
from ..data.layout import normalise
from ..errors import ConfigError
from ..models.stage2 import Stage2Model
from ..runtime.process import Process, on_device
from ..stage2.config import Stage2Config
from ..stage2.evaluate import predict_with
from ..stage2.protocol import EvalProtocol, protocol_for
from ..stage2.train import load_stage2_model


def as_rgb(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) RGB or (H, W) grayscale uint8 image as (H, W, 3) RGB (gray repeated, as image files are read)."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ConfigError(f"image: expected uint8 values 0-255, got {array.dtype}")
    if array.ndim == 2:
        return np.repeat(array[:, :, None], 3, axis=2)
    if array.ndim == 3 and array.shape[2] == 3:
        return array
    raise ConfigError(f"image: expected (H, W, 3) RGB or (H, W) grayscale, got shape {array.shape}")


@dataclass(frozen=True)
class SegmentationModel:
    """A stage-2 checkpoint's model in eval mode on its device, with its config (see :func:`load_model`).

    Attributes
    ----------
    model
        The network; its forward pass takes normalised (N, 3, H, W) images.
    config
        The run's recorded stage-2 config (classes aside, what the model was trained with).
    num_classes
        Classes, background included: predictions are ids ``0 .. num_classes - 1``.
    step
        The checkpoint's training step.
    process
        Where the model runs.
    class_names
        The name of each class id, as the training data's ``meta.json`` gave them; ``None``
        for checkpoints written before names were recorded.
    """

    model: Stage2Model
    config: Stage2Config
    num_classes: int
    step: int
    process: Process
    class_names: tuple[str, ...] | None = None

    def protocol(self, name: str = "single-scale", **options) -> EvalProtocol:
        """The evaluation protocol ``name`` for this model's run (see :func:`~csptrain.stage2.protocol.protocol_for`)."""
        return protocol_for(self.config, name, **options)

    @overload
    def predict_proba(self, image: np.ndarray, protocol: str | EvalProtocol = ...) -> np.ndarray: ...
    @overload
    def predict_proba(self, image: Sequence[np.ndarray], protocol: str | EvalProtocol = ...) -> list[np.ndarray]: ...

    def predict_proba(self, image, protocol: str | EvalProtocol = "single-scale"):
        """Class probabilities (C, H, W) float32 of an image; a list of images gives a list.

        ``protocol``: ``single-scale`` (by default: one forward pass at the image's own size),
        ``authors``, or an :class:`~csptrain.stage2.protocol.EvalProtocol`.
        """
        if isinstance(image, list | tuple):
            return [self.predict_proba(one, protocol) for one in image]
        return self._probabilities(image, protocol).float().cpu().numpy()

    def _probabilities(self, image: np.ndarray, protocol: str | EvalProtocol) -> torch.Tensor:
        """(C, H, W) probabilities of one image, on the model's device."""
        chosen = self.protocol(protocol) if isinstance(protocol, str) else protocol
        tensor = normalise(as_rgb(image)).to(self.process.device)
        with torch.no_grad():
            return predict_with(self.model, tensor, chosen)

    @overload
    def predict(self, image: np.ndarray, protocol: str | EvalProtocol = ...) -> np.ndarray: ...
    @overload
    def predict(self, image: Sequence[np.ndarray], protocol: str | EvalProtocol = ...) -> list[np.ndarray]: ...

    def predict(self, image, protocol: str | EvalProtocol = "single-scale"):
        """Class ids (H, W) of an image at its own size, uint8 (uint16 above 255 classes); a list of images
        gives a list (see :meth:`predict_proba`)."""
        if isinstance(image, list | tuple):
            return [self.predict(one, protocol) for one in image]
        probabilities = self._probabilities(image, protocol)
        return probabilities.argmax(0).cpu().numpy().astype(class_map_dtype(self.num_classes))


def load_model(checkpoint: Path | str, device: str = "cpu") -> SegmentationModel:
    """The model of a stage-2 checkpoint (of ``csptrain stage2`` or ``csptrain run``), ready to predict.

    Parameters
    ----------
    checkpoint
        A stage-2 run's checkpoint; a missing, unreadable or other file is a one-line
        :class:`~csptrain.errors.WeightsError`.
    device
        ``cpu``, ``cuda``, ``cuda:1`` or ``auto``.
    """
    return model_on(Path(checkpoint), on_device(device))


def model_on(checkpoint: Path, process: Process) -> SegmentationModel:
    """:func:`load_model` on a process that its caller resolved (a command, under torchrun)."""
    trained = load_stage2_model(checkpoint)
    model = trained.model.to(process.device).eval()
    names = trained.about.get("class_names")
    class_names = tuple(map(str, names)) if isinstance(names, list) and len(names) == trained.num_classes else None
    return SegmentationModel(model, trained.config, trained.num_classes, trained.step, process, class_names)

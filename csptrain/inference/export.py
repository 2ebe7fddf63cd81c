"""A trained stage-2 model as a file for deployment: ONNX (for onnxruntime) or TorchScript.

The exported graph takes float32 (N, 3, H, W) RGB images with values 0-255 (the evaluation's
ImageNet normalisation is inside it) and returns (N, C, H, W) logits at the input's size;
N, H and W are free. Its argmax is :meth:`~csptrain.inference.predictor.SegmentationModel.predict`'s
single-scale prediction. An ONNX file also names its classes and the normalisation inside it
in its metadata (:func:`onnx_metadata`). :func:`check_export` runs the written file on a few inputs beside
the PyTorch model and measures how far apart they are.
"""

from __future__ import annotations

import copy
import json
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from scribblesim.sets.files import remove_stale_temporaries

from ..data.layout import IMAGENET_MEAN, IMAGENET_STD
from ..errors import ConfigError, WeightsError
from .predictor import SegmentationModel

#: Batch, height and width of the random images the check runs: odd sizes, another batch.
CHECK_SHAPES: tuple[tuple[int, int, int], ...] = ((1, 224, 224), (2, 161, 243), (1, 311, 97))
_EXTRA = "pip install 'scribblesim[export]'"


class PixelInputModel(nn.Module):
    """A stage-2 network behind the evaluation's normalisation: RGB 0-255 (N, 3, H, W) in, logits out."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network
        # the float32 values of csptrain.data.layout.normalise
        self.register_buffer("scale", torch.from_numpy(1.0 / (255.0 * IMAGENET_STD))[None, :, None, None])
        self.register_buffer("offset", torch.from_numpy(-IMAGENET_MEAN / IMAGENET_STD)[None, :, None, None])

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        # (buffers are typed Tensor | Module for mypy; annotating them would hide them from TorchScript)
        return self.network(images * self.scale + self.offset)["out"]  # type: ignore[operator]


def pixel_input_model(model: SegmentationModel) -> PixelInputModel:
    """The graph to export: a CPU copy of ``model``'s segmentor (LoRM is a training loss, left out)."""
    return PixelInputModel(copy.deepcopy(model.model.segmentor).cpu()).eval()


def export_model(model: SegmentationModel, out: Path, format: str) -> Path:
    """Write ``model`` to ``out`` as ``format`` (``onnx`` or ``torchscript``), atomically.

    Raises a one-line :class:`ConfigError` for an unknown format, or when ONNX's exporter
    (onnx, onnxscript: the ``export`` extra) is missing.
    """
    graph = pixel_input_model(model)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(out.parent)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if format == "onnx":
            _write_onnx(graph, temporary, onnx_metadata(model))
        elif format == "torchscript":
            with warnings.catch_warnings():  # TorchScript is deprecated, yet what C++ (libtorch) loads
                warnings.simplefilter("ignore", FutureWarning)
                torch.jit.save(torch.jit.script(graph), str(temporary))
        else:
            raise ConfigError(f"unknown export format {format!r}; choose onnx or torchscript")
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return out


def onnx_metadata(model: SegmentationModel) -> dict[str, str]:
    """An exported ONNX file's metadata: what a user needs beside its graph, as JSON strings.

    ``class_names`` (a list; index = class id, absent where the checkpoint records none),
    ``normalisation`` (the mean and std, on 0-1 values, that the graph applies to 0-255
    RGB input), ``input`` (what the graph takes) and ``num_classes``.
    """
    metadata = {
        "num_classes": json.dumps(model.num_classes),
        "normalisation": json.dumps(
            {"mean": IMAGENET_MEAN.tolist(), "std": IMAGENET_STD.tolist(), "max_value": 255, "inside_graph": True}
        ),
        "input": json.dumps("float32 (N, 3, H, W) RGB, values 0-255"),
    }
    if model.class_names is not None:
        metadata["class_names"] = json.dumps(list(model.class_names))
    return metadata


def _write_onnx(graph: PixelInputModel, path: Path, metadata: dict[str, str]) -> None:
    try:
        import onnx  # (the exporter needs both; say so before it starts)
        import onnxscript  # noqa: F401
    except ImportError:
        raise ConfigError(f"ONNX export needs onnx and onnxscript: {_EXTRA}") from None
    free = torch.export.Dim.DYNAMIC
    example = torch.zeros(2, 3, 160, 192)  # sizes other than 1, so that none is taken for a constant
    program = torch.onnx.export(
        graph,
        (example,),
        dynamo=True,
        input_names=["images"],
        output_names=["logits"],
        dynamic_shapes={"images": {0: free, 2: free, 3: free}},
        verbose=False,
    )
    assert program is not None, "the dynamo exporter returns its program"
    program.save(str(path))
    written = onnx.load(str(path))
    onnx.helper.set_model_props(written, metadata)
    onnx.save(written, str(path))


def exported_logits(path: Path, format: str, images: np.ndarray) -> np.ndarray:
    """(N, C, H, W) logits of float32 RGB ``images`` (N, 3, H, W) from an exported file, on the CPU."""
    if format == "onnx":
        try:
            import onnxruntime
        except ImportError:
            raise ConfigError(f"running an ONNX file needs onnxruntime: {_EXTRA}") from None
        try:
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception as error:  # onnxruntime raises its own Fail/InvalidGraph errors
            raise WeightsError(f"{path}: not a loadable ONNX file ({str(error).splitlines()[0][:120]})") from None
        return session.run(None, {session.get_inputs()[0].name: images})[0]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            scripted = torch.jit.load(str(path), map_location="cpu")
    except RuntimeError as error:
        raise WeightsError(f"{path}: not a loadable TorchScript file ({str(error).splitlines()[0][:120]})") from None
    with torch.no_grad():
        return scripted(torch.from_numpy(images)).numpy()


@dataclass(frozen=True)
class ExportCheck:
    """How an exported file's outputs compare with the PyTorch model's on random images.

    Attributes
    ----------
    max_difference
        The largest absolute difference of a logit.
    agreement
        Share of pixels whose argmax (predicted class) is the same.
    shapes
        (N, H, W) of each input batch.
    """

    max_difference: float
    agreement: float
    shapes: tuple[tuple[int, int, int], ...]


def check_export(model: SegmentationModel, path: Path, format: str, shapes=CHECK_SHAPES, seed: int = 0) -> ExportCheck:
    """Run the exported file and the PyTorch model on random RGB batches of ``shapes``; compare."""
    graph = pixel_input_model(model)
    generator = np.random.default_rng(seed)
    largest, same, total = 0.0, 0, 0
    for batch, height, width in shapes:
        images = generator.integers(0, 256, size=(batch, 3, height, width)).astype(np.float32)
        exported = exported_logits(path, format, images)
        with torch.no_grad():
            reference = graph(torch.from_numpy(images)).numpy()
        if exported.shape != reference.shape:
            raise WeightsError(f"{path}: gives logits of shape {exported.shape}, the model {reference.shape}")
        largest = max(largest, float(np.abs(exported - reference).max()))
        same += int((exported.argmax(1) == reference.argmax(1)).sum())
        total += batch * height * width
    return ExportCheck(largest, same / total, tuple(shapes))

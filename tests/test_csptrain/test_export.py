"""``csptrain export``: ONNX and TorchScript files that predict what ``csptrain.load_model`` predicts."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
import torch
from click.testing import CliRunner

import csptrain
from csptrain.cli import main
from csptrain.data.layout import find_image, read_image, read_split
from csptrain.inference.export import check_export, export_model, exported_logits
from csptrain.inference.predictor import SegmentationModel
from csptrain.models.stage2 import Stage2Model
from csptrain.runtime.process import on_device
from csptrain.stage2.config import Stage2Config


def export(checkpoint: Path, file_format: str, out: Path):
    return CliRunner().invoke(
        main, ["export", "--checkpoint", str(checkpoint), "--format", file_format, "--out", str(out)]
    )


def pixels(image: np.ndarray) -> np.ndarray:
    """An (H, W, 3) uint8 image as the exported graph's float32 (1, 3, H, W) input."""
    return image.transpose(2, 0, 1)[None].astype(np.float32)


def test_onnx_in_onnxruntime_predicts_what_load_model_predicts(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, checkpoint = trained
    out = tmp_path / "model.onnx"
    result = export(checkpoint, "onnx", out)
    assert result.exit_code == 0, result.output
    reported = re.search(r"largest logit difference ([0-9.e+-]+), same class on ([0-9.]+) %", result.output)
    assert reported and float(reported.group(1)) < 1e-3 and float(reported.group(2)) >= 99.9
    model = csptrain.load_model(checkpoint)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (given,) = session.get_inputs()
    assert given.name == "images" and given.shape[1] == 3 and all(isinstance(n, str) for n in given.shape[::2])
    images = [read_image(find_image(data, name)) for name in read_split(data, "val")[:3]]
    assert len({image.shape for image in images}) == 3  # each at its own size
    for image in images:
        (logits,) = session.run(None, {"images": pixels(image)})
        assert logits.shape == (1, model.num_classes, *image.shape[:2])
        assert (logits[0].argmax(0) == model.predict(image)).mean() >= 0.999


def test_torchscript_takes_any_batch_and_size(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, checkpoint = trained
    out = tmp_path / "model.pt"
    result = export(checkpoint, "torchscript", out)
    assert result.exit_code == 0, result.output
    model = csptrain.load_model(checkpoint)
    image = read_image(find_image(data, read_split(data, "val")[0]))
    logits = exported_logits(out, "torchscript", np.concatenate([pixels(image), pixels(image[::-1].copy())]))
    assert logits.shape == (2, model.num_classes, *image.shape[:2])
    # a batch of two runs other kernels than one image: near-ties of a 2-step model may flip
    assert (logits[0].argmax(0) == model.predict(image)).mean() >= 0.999
    assert (logits[1].argmax(0) == model.predict(image[::-1].copy())).mean() >= 0.999


@pytest.mark.parametrize("file_format", ["onnx", "torchscript"])
def test_the_unet_exports_with_free_sizes(file_format: str, tmp_path: Path) -> None:
    # The UNet pads each side to a multiple of 16 from the input's own size: that must stay free in the graph.
    torch.manual_seed(0)
    network = Stage2Model("resnet18", 4, segmentor="unet").eval()
    model = SegmentationModel(network, Stage2Config(segmentor="unet"), 4, 0, on_device("cpu"))
    out = export_model(model, tmp_path / f"unet.{file_format}", file_format)
    check = check_export(model, out, file_format, shapes=((1, 64, 64), (2, 37, 90)))
    assert check.max_difference < 1e-4 and check.agreement >= 0.999
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary left beside it


def test_bad_export_arguments_are_one_line(trained: tuple[Path, Path], tmp_path: Path) -> None:
    _, checkpoint = trained
    missing = export(tmp_path / "none.pt", "onnx", tmp_path / "m.onnx")
    assert missing.exit_code == 2 and "none.pt" in missing.output and "Traceback" not in missing.output
    unknown = export(checkpoint, "tflite", tmp_path / "m.tflite")
    assert unknown.exit_code == 2 and "--format" in unknown.output
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not onnx")
    with pytest.raises(csptrain.errors.WeightsError, match="broken.onnx"):
        exported_logits(broken, "onnx", np.zeros((1, 3, 8, 8), np.float32))

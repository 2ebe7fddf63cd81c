"""Loading a shared model or weights file never runs code from it, and a partial one is one line."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import onnx
import onnxruntime
import pytest
import torch
import torchvision
from click.testing import CliRunner
from safetensors.torch import save_file

import csptrain
from csptrain.cli import main
from csptrain.data.layout import IMAGENET_MEAN, IMAGENET_STD, class_names_of
from csptrain.errors import WeightsError
from csptrain.models.deeplabv3plus import deeplabv3plus


class Payload:
    """Unpickles as a call of ``os.system``: what a malicious checkpoint carries."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def malicious(path: Path, marker: Path, state: dict) -> Path:
    """``state`` saved with a payload beside it; loading it unrestricted creates ``marker``."""
    torch.save({**state, "note": Payload(marker)}, path)
    return path


def invoke(*args: str | Path):
    return CliRunner().invoke(main, [*map(str, args)])


def one_line(result, *expected: str) -> str:
    assert result.exit_code != 0, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert all(text in lines[0] for text in expected), lines[0]
    return lines[0]


def test_a_checkpoint_with_code_is_refused_everywhere_and_its_code_never_runs(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    data, checkpoint = trained
    marker = tmp_path / "code-ran"
    whole = torch.load(checkpoint, map_location="cpu", weights_only=True)
    evil = malicious(tmp_path / "evil.pt", marker, whole)
    common = ("--device", "cpu", "--workers", "0", "--no-progress")
    commands = (
        ("predict", data / "JPEGImages", "--checkpoint", evil, "--out", tmp_path / "out", *common),
        ("eval", "--data", data, "--checkpoint", evil, "--protocol", "single-scale", *common),
        ("export", "--checkpoint", evil, "--format", "torchscript", "--out", tmp_path / "m.pt"),
    )
    for args in commands:
        one_line(invoke(*args), str(evil), "refused")
    with pytest.raises(WeightsError, match="refused"):
        csptrain.load_model(evil)
    # a run folder whose last.pt was swapped: the stage-2 resume refuses it
    run = tmp_path / "run"
    run.mkdir()
    shutil.copy(evil, run / "last.pt")
    tiny = ["--backbone", "resnet18", "--crop-size", "64", "--batch-size", "2", "--max-steps", "3", *common]
    result = invoke("stage2", "--data", data, "--scribbles", "tiny_scribble_r1", "--out", run, *tiny)
    one_line(result, "last.pt", "refused")
    # and so do weights files
    result = invoke(
        "stage2",
        "--data",
        data,
        "--scribbles",
        "tiny_scribble_r1",
        "--out",
        tmp_path / "r2",
        *tiny,
        "--pretrained",
        malicious(tmp_path / "evil.pth", marker, {}),
    )
    one_line(result, "evil.pth", "refused")
    assert not marker.exists()
    assert not (tmp_path / "out").exists() and not (tmp_path / "m.pt").exists()


def test_a_checkpoint_missing_a_key_is_one_line_that_names_it(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, checkpoint = trained
    whole = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for key in ("num_classes", "config", "step"):
        partial = tmp_path / f"without-{key}.pt"
        torch.save({k: v for k, v in whole.items() if k != key}, partial)
        one_line(
            invoke("export", "--checkpoint", partial, "--format", "onnx", "--out", tmp_path / "m.onnx"), f"no '{key}'"
        )
        with pytest.raises(WeightsError, match=f"no '{key}'"):
            csptrain.load_model(partial)
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": whole["model"]}, foreign)
    with pytest.raises(WeightsError, match="not a csptrain checkpoint"):
        csptrain.load_model(foreign)


def test_a_checkpoint_records_class_names_and_normalisation_and_onnx_carries_them(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    data, checkpoint = trained
    model = csptrain.load_model(checkpoint)
    assert model.class_names == tuple(class_names_of(data))
    out = tmp_path / "model.onnx"
    result = invoke("export", "--checkpoint", checkpoint, "--format", "onnx", "--out", out)
    assert result.exit_code == 0, result.output
    metadata = {prop.key: json.loads(prop.value) for prop in onnx.load(str(out)).metadata_props}
    assert metadata["class_names"] == class_names_of(data)
    assert metadata["num_classes"] == model.num_classes
    normalisation = metadata["normalisation"]
    assert normalisation["mean"] == IMAGENET_MEAN.tolist() and normalisation["std"] == IMAGENET_STD.tolist()
    assert normalisation["max_value"] == 255 and normalisation["inside_graph"] is True
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map["class_names"]) == class_names_of(data)


def test_pretrained_weights_load_from_safetensors_as_from_pth(tmp_path: Path) -> None:
    state = torchvision.models.resnet18().state_dict()
    torch.save(state, tmp_path / "r18.pth")
    save_file({k: v.contiguous() for k, v in state.items()}, tmp_path / "r18.safetensors")
    from_pth = deeplabv3plus("resnet18", 3, tmp_path / "r18.pth").state_dict()
    from_safetensors = deeplabv3plus("resnet18", 3, tmp_path / "r18.safetensors").state_dict()
    backbone = [k for k in from_pth if k.startswith("backbone.") and from_pth[k].is_floating_point()]
    assert backbone and all(torch.equal(from_pth[k], from_safetensors[k]) for k in backbone)
    assert all(torch.equal(from_pth[k], state[k.removeprefix("backbone.")]) for k in backbone if "conv1" in k)
    corrupt = tmp_path / "bad.safetensors"
    corrupt.write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match="unreadable weights file"):
        deeplabv3plus("resnet18", 3, corrupt)

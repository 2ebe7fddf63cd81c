"""Using what csptrain trained: ``csptrain.load_model`` and ``csptrain predict`` on a tiny stage-2 checkpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from dataset_fixtures import build_tiny

import csptrain
from csptrain.cli import main
from csptrain.data.layout import Layout, find_image, read_image, read_split
from csptrain.errors import ConfigError, WeightsError
from csptrain.metrics import confusion_matrix, iou_scores
from scribblesim.sets.scribble_set import read_label_map

TINY = ["--backbone", "resnet18", "--crop-size", "64", "--batch-size", "2", "--epochs", "1", "--max-steps", "2"]
TINY += ["--device", "cpu", "--workers", "0", "--no-progress"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(build, stage-2 checkpoint) of 2 steps on four quarter-size sample images, split ``train``."""
    root = tmp_path_factory.mktemp("predict")
    data = build_tiny(root / "data", count=4, split="train", shrink=4)
    ids = read_split(data, "train")
    (data / "ImageSets/SegmentationAug/val.txt").write_text("".join(f"{name}\n" for name in ids))
    args = ["stage2", "--data", str(data), "--scribbles", "tiny_scribble_r1", "--out", str(root / "run"), *TINY]
    result = CliRunner().invoke(main, [*args, "--preset", "coco"])
    assert result.exit_code == 0, result.output
    return data, root / "run" / "last.pt"


def predict(*args: str | Path):
    return CliRunner().invoke(main, ["predict", *map(str, args), "--device", "cpu", "--workers", "0", "--no-progress"])


def test_predict_then_scoring_gives_evals_miou(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, checkpoint = trained
    evaluated = tmp_path / "eval"
    args = ["eval", "--data", data, "--checkpoint", checkpoint, "--protocol", "single-scale"]
    result = CliRunner().invoke(main, [*map(str, args), "--save-predictions", str(evaluated), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    miou = json.loads((checkpoint.parent / "eval.json").read_text())["miou"]
    out = tmp_path / "predicted"
    result = predict(data / "JPEGImages", "--checkpoint", checkpoint, "--out", out, "--protocol", "single-scale")
    assert result.exit_code == 0, result.output
    confusion = np.zeros((81, 81), dtype=np.int64)
    for name in read_split(data, "val"):
        labels = read_label_map(out / f"{name}.png")
        assert labels.shape == read_image(find_image(data, name)).shape[:2] and labels.max() < 81
        assert np.array_equal(labels, read_label_map(evaluated / f"{name}.png"))
        confusion += confusion_matrix(labels, read_label_map(Layout(data).ground_truth(name)), 81)
    assert iou_scores(confusion)["miou"] == pytest.approx(miou, abs=5e-4)
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*.png")}
    again = predict(data / "JPEGImages", "--checkpoint", checkpoint, "--out", out, "--protocol", "single-scale")
    assert again.exit_code == 0 and "0 label PNGs written, 4 already there" in again.output
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}


def test_load_model_predicts_rgb_gray_and_lists(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, checkpoint = trained
    model = csptrain.load_model(checkpoint, device="cpu")
    name = read_split(data, "val")[0]
    image = read_image(find_image(data, name))
    out = tmp_path / "one"
    assert (
        predict(
            find_image(data, name), "--checkpoint", checkpoint, "--out", out, "--protocol", "single-scale"
        ).exit_code
        == 0
    )
    labels = model.predict(image)
    assert labels.dtype == np.uint8 and np.array_equal(labels, read_label_map(out / f"{name}.png"))
    probs = model.predict_proba(image)
    assert probs.shape == (model.num_classes, *image.shape[:2]) and np.allclose(probs.sum(0), 1, atol=1e-4)
    gray = image[..., 0]
    assert np.array_equal(model.predict(gray), model.predict(np.repeat(gray[..., None], 3, axis=2)))
    batch = model.predict([image, gray])
    assert len(batch) == 2 and np.array_equal(batch[0], labels)
    windows = model.protocol("authors", base_size=96, scales=(1.0,))  # a few windows of the 64 crop
    assert model.predict(image, protocol=windows).shape == image.shape[:2]
    with pytest.raises(ConfigError, match="uint8"):
        model.predict(image.astype(np.float32))
    with pytest.raises(ConfigError, match="shape"):
        model.predict(image[..., :2])


def test_bad_inputs_get_one_line_each_and_the_good_files_are_written(
    trained: tuple[Path, Path], tmp_path: Path
) -> None:
    data, checkpoint = trained
    folder = tmp_path / "images"
    shutil.copytree(data / "JPEGImages", folder)
    (folder / "broken.jpg").write_bytes(b"not an image")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    inputs = [folder, empty, tmp_path / "missing.png"]
    result = predict(*inputs, "--checkpoint", checkpoint, "--out", out, "--overlay", "--protocol", "single-scale")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3 and "Traceback" not in result.output
    assert any("broken.jpg" in e for e in errors) and any(str(empty) in e for e in errors)
    assert any("missing.png: no such file" in e for e in errors)
    assert len(list(out.glob("*.png"))) == 4 and len(list((out / "overlay").glob("*.png"))) == 4
    overlay = read_image(next((out / "overlay").glob("*.png")))
    assert overlay.shape[2] == 3
    nothing = predict(empty, "--checkpoint", checkpoint, "--out", out)
    assert nothing.exit_code == 2 and nothing.output.count("\n") == 1 and "no image files" in nothing.output


def test_a_checkpoint_that_is_not_stage_2s_is_one_line(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = trained
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"junk")
    stage1 = tmp_path / "stage1.pt"  # what a stage-1 run's last.pt records (its config's own fields)
    torch.save({"model": {}, "config": {"backbone": "vit_tiny_patch16_224", "local_crop_size": 32}, "step": 1}, stage1)
    for checkpoint, message in ((corrupt, "unreadable checkpoint"), (stage1, "not a checkpoint of this stage")):
        result = predict(data / "JPEGImages", "--checkpoint", checkpoint, "--out", tmp_path / "out")
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert result.output.startswith(f"error: {checkpoint}: {message}")
        with pytest.raises(WeightsError):
            csptrain.load_model(checkpoint)
    assert not (tmp_path / "out").exists()


def test_the_predict_example_runs(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, checkpoint = trained
    image = find_image(data, read_split(data, "val")[0])
    example = Path(__file__).resolve().parents[2] / "examples" / "predict_api.py"
    out = tmp_path / "labels.png"
    done = subprocess.run(
        [sys.executable, str(example), str(checkpoint), str(image), str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert "81 classes" in done.stdout and read_label_map(out).shape == read_image(image).shape[:2]

"""Using what csptrain trained: ``csptrain.load_model`` and ``csptrain predict`` on a tiny stage-2 checkpoint."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from dataset_fixtures import frame_arrays, h5_root, write_h5

import csptrain
from csptrain.cli import main
from csptrain.data.layout import Layout, find_image, read_image, read_split
from csptrain.errors import ConfigError, WeightsError
from csptrain.metrics import confusion_matrix, iou_scores
from scribblesim.datasets.acdc import read_acdc
from scribblesim.datasets.volumes import read_image_volume
from scribblesim.sets.scribble_set import read_label_map


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
    assert again.exit_code == 0 and "0 labels written, 4 already there" in again.output
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
    assert nothing.exit_code == 2 and nothing.output.count("\n") == 1 and "no image or volume files" in nothing.output


def test_volumes_get_label_volumes_of_their_format_shape_and_affine(trained: tuple[Path, Path], tmp_path: Path) -> None:
    nibabel = pytest.importorskip("nibabel")
    _, checkpoint = trained
    root = h5_root(tmp_path, patients=(1,))
    h5 = next((root / "ACDC_training_volumes").glob("*.h5"))
    arrays = frame_arrays(2, 1)
    raw = np.rint(arrays["image"] * 900 + 50).astype(np.int16).transpose(2, 1, 0)[..., None]  # (x, y, z, 1)
    affine = np.array([[1.4, 0, 0, -90], [0, 1.4, 0, 12], [0, 0, 10, 3], [0, 0, 0, 1]])
    folder = tmp_path / "patient002"
    folder.mkdir()
    nibabel.Nifti1Image(raw, affine).to_filename(folder / "patient002_frame01.nii.gz")
    flat = tmp_path / "flat.nii"
    nibabel.Nifti1Image(raw[:, :, 0, 0], affine).to_filename(flat)
    write_h5(tmp_path / "flat.h5", {"image": arrays["image"][0]})
    out = tmp_path / "out"
    inputs = [h5, folder, flat, tmp_path / "flat.h5"]
    result = predict(*inputs, "--checkpoint", checkpoint, "--out", out, "--protocol", "single-scale")
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 2 and "Traceback" not in result.output
    assert any("flat.nii: NIfTI volume of shape" in e for e in errors) and any("flat.h5: 'image'" in e for e in errors)
    model = csptrain.load_model(checkpoint)
    # the slices are the build's, so each label slice is what the build's slice PNG gets
    slices = {s.name: s.load().pixels for s in read_acdc(root).slices}
    with h5py.File(out / h5.name, "r") as handle:
        labels = handle["label"][()]
    assert labels.shape == arrays["image"].shape and labels.dtype == np.uint8
    for z, one in enumerate(labels):
        assert np.array_equal(one, model.predict(slices[f"{h5.name[:-3]}_z{z:02d}"]))
    written = nibabel.load(out / "patient002_frame01.nii.gz")
    given = nibabel.load(folder / "patient002_frame01.nii.gz")  # its affine as stored (float32)
    assert written.shape == raw.shape and np.array_equal(written.affine, given.affine)
    assert (
        np.allclose(written.affine, affine, atol=1e-6)
        and written.header.get_xyzt_units() == given.header.get_xyzt_units()
    )
    assert written.get_data_dtype() == np.uint8
    volume = np.asarray(written.dataobj)[..., 0].transpose(2, 1, 0)
    source = read_image_volume(folder / "patient002_frame01.nii.gz")
    assert np.array_equal(volume, np.stack([model.predict(one) for one in source]))


def test_a_checkpoint_that_is_not_stage_2s_is_one_line(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = trained
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"junk")
    stage1 = tmp_path / "stage1.pt"  # what a stage-1 run's last.pt records (its config's own fields)
    torch.save(
        {
            "model": {},
            "config": {"backbone": "vit_tiny_patch16_224", "local_crop_size": 32},
            "num_classes": 3,
            "step": 1,
        },
        stage1,
    )
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


def test_a_checkpoint_that_records_its_run_settings_still_loads(trained: tuple[Path, Path], tmp_path: Path) -> None:
    # before RunSettings, a checkpoint's config held the device, workers and stop beside what is learnt
    _, checkpoint = trained
    state = torch.load(checkpoint, weights_only=True)
    state["config"] = {**state["config"], "device": "cuda", "workers": 4, "bf16": True, "max_steps": 2}
    older = tmp_path / "older.pt"
    torch.save(state, older)
    model = csptrain.load_model(older, device="cpu")
    assert model.config == csptrain.load_model(checkpoint, device="cpu").config

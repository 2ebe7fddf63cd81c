"""Stage 1 and its pseudo-labels on a tiny build of the embedded COCO sample."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from dataset_fixtures import build_tiny
from lab.pseudo_variants import VARIANTS, grid_ceiling

from csptrain.cli import main
from csptrain.data.labels import IGNORE
from csptrain.data.stage1 import Stage1Dataset, ToCoAugment
from csptrain.errors import RunFolderError
from csptrain.runtime.process import Process
from csptrain.runtime.settings import RunSettings
from csptrain.stage1.cam import probabilities_to_labels
from csptrain.stage1.config import make_stage1_config
from csptrain.stage1.pseudo import generate_pseudo_labels
from csptrain.stage1.train import train_stage1
from scribblesim.sets.scribble_set import read_label_map

CPU = Process(torch.device("cpu"))  # one process on the CPU, as `joined("cpu")` gives
TINY_VIT = dict(
    backbone="vit_tiny_patch16_224",
    crop_size=64,
    local_crop_size=32,
    batch_size=2,
    iterations=4,
    warmup_iters=1,
    seg_start=0.0,
    contrast_start=0.0,
)
QUIET = RunSettings(device="cpu", workers=0, accumulate=1, progress=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Four sample images built as split ``val2017`` with seeds 1 and 2, shrunk to a quarter (160 x 120 or so)."""
    return build_tiny(tmp_path_factory.mktemp("tiny1"), count=4, seeds=(1, 2), split="val2017", shrink=4)


def test_dataset_views_and_labels(data: Path) -> None:
    dataset = Stage1Dataset(data, "val2017", "tiny_scribble_r1", 81, ToCoAugment(64), seed=3)
    item = dataset[0]
    assert item["image"].shape == item["global_view"].shape == item["local_source"].shape == (3, 64, 64)
    image, scribble = dataset.load(0)
    present = sorted(set(np.unique(scribble).tolist()) - {0, IGNORE})
    assert (torch.nonzero(item["image_labels"])[:, 0] + 1).tolist() == present
    crop, (expected,), box = dataset.augment(image, [scribble], np.random.default_rng([3, 0, 0]))
    assert np.array_equal(item["scribble"].numpy(), expected) and item["box"].tolist() == box.tolist()
    again = Stage1Dataset(data, "val2017", "tiny_scribble_r1", 81, ToCoAugment(64), seed=3)[0]
    assert all(torch.equal(item[k], again[k]) for k in item)  # photometric draws are seeded too


def test_resume_gives_the_weights_of_an_uninterrupted_run(data: Path, tmp_path: Path) -> None:
    config, settings = make_stage1_config("coco", **TINY_VIT), replace(QUIET, checkpoint_every=1)
    straight = train_stage1(data, "tiny_scribble_r1", tmp_path / "a", config, CPU, settings=settings, split="val2017")
    assert {"cls", "aux", "ptc", "ctc", "seg", "reg", "segs"} <= set(straight)
    train_stage1(
        data,
        "tiny_scribble_r1",
        tmp_path / "b",
        config,
        CPU,
        settings=replace(settings, max_steps=2),
        split="val2017",
    )
    progress = json.loads((tmp_path / "b/progress.json").read_text())
    assert (progress["step"], progress["stop"], progress["last"]["step"]) == (2, 2, 2)
    resumed = train_stage1(data, "tiny_scribble_r1", tmp_path / "b", config, CPU, settings=settings, split="val2017")
    assert resumed["step"] == straight["step"] == 4 and resumed["lr"] == straight["lr"]
    a = torch.load(tmp_path / "a/last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b/last.pt", weights_only=False)["model"]
    assert a.keys() == b.keys() and all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_pseudo_labels_keep_to_the_image_classes(data: Path, tmp_path: Path) -> None:
    train_stage1(
        data,
        "tiny_scribble_r1",
        tmp_path / "s1",
        make_stage1_config("coco", **TINY_VIT),
        CPU,
        settings=replace(QUIET, max_steps=1),
        split="val2017",
    )
    out = tmp_path / "pseudo"
    summary = generate_pseudo_labels(
        data, tmp_path / "s1/last.pt", out, CPU, split="val2017", scribbles="tiny_scribble_r1", progress=False
    )
    assert summary["images"] == 4 and 0 <= summary["miou"] <= 1 and 0 <= summary["uncertain_share"] <= 1
    assert json.loads((out / "eval.json").read_text())["checkpoint_step"] == 1
    for name in (data / "ImageSets/SegmentationAug/val.txt").read_text().split():
        label = read_label_map(out / f"{name}.png")
        scribble = read_label_map(data / "tiny_scribble_r1" / f"{name}.png")
        assert label.shape == scribble.shape
        assert set(np.unique(label)) <= set(np.unique(scribble)) | {0, 255}
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    generate_pseudo_labels(
        data, tmp_path / "s1/last.pt", out, CPU, split="val2017", scribbles="tiny_scribble_r1", progress=False
    )
    assert stamps == {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    for other in (dict(use_par=False), dict(source="scribble-head")):  # never mixed with labels made otherwise
        with pytest.raises(RunFolderError, match="holds pseudo-labels of"):
            generate_pseudo_labels(
                data, tmp_path / "s1/last.pt", out, CPU, split="val2017", scribbles="tiny_scribble_r1", **other
            )
    head = tmp_path / "head"
    summary = generate_pseudo_labels(
        data, tmp_path / "s1/last.pt", head, CPU, split="val2017", scribbles="tiny_scribble_r1", source="scribble-head"
    )
    assert summary["source"] == "scribble-head" and summary["images"] == 4
    for name in (data / "ImageSets/SegmentationAug/val.txt").read_text().split():
        label, scribble = (read_label_map(folder / f"{name}.png") for folder in (head, data / "tiny_scribble_r1"))
        assert label.shape == scribble.shape and set(np.unique(label)) <= set(np.unique(scribble)) | {0, 255}


def test_scribble_head_probabilities_become_labels_of_the_image_classes() -> None:
    # 4 classes (rows) over one 2 x 3 image (columns: pixels in row-major order); the image holds class 1 only
    probabilities = torch.tensor(
        [
            [0.1, 0.1, 0.5, 0.7, 0.1, 0.0],
            [0.1, 0.8, 0.1, 0.1, 0.1, 0.9],
            [0.7, 0.1, 0.1, 0.1, 0.1, 0.1],
            [0.1, 0.0, 0.3, 0.1, 0.7, 0.0],
        ]
    ).reshape(1, 4, 2, 3)
    image_labels = torch.tensor([[1.0, 0.0, 0.0]])
    box = torch.tensor([[0, 2, 0, 2]])  # the last column is padding
    labels = probabilities_to_labels(None, torch.zeros(1, 3, 2, 3), probabilities, image_labels, 0.7, box)
    # background and class 1 kept and renormalised: (0.5, 0.5) uncertain, (0.11, 0.89) class 1, the padding
    # 255; (0.875, 0.125) background, (0.5, 0.5) uncertain (class 3's 0.7 is not the image's), padding
    assert labels.tolist() == [[[IGNORE, 1, IGNORE], [0, IGNORE, IGNORE]]]


def test_stage1_and_pseudo_commands(data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run = tmp_path / "s1"
    result = runner.invoke(
        main,
        [
            "stage1",
            "--data",
            str(data),
            "--scribbles",
            "tiny_scribble_r2",
            "--out",
            str(run),
            "--train-split",
            "val2017",
            "--backbone",
            "vit_tiny_patch16_224",
            "--crop-size",
            "64",
            "--local-crop-size",
            "32",
            "--max-steps",
            "1",
            "--device",
            "cpu",
            "--workers",
            "0",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "step 1" in result.output and any((run / "tensorboard").iterdir())
    result = runner.invoke(
        main,
        [
            "pseudo",
            "--data",
            str(data),
            "--checkpoint",
            str(run / "last.pt"),
            "--scribbles",
            "tiny_scribble_r2",
            "--out",
            str(tmp_path / "p"),
            "--split",
            "val2017",
            "--no-par",
            "--device",
            "cpu",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "pseudo-label mIoU" in result.output and len(list((tmp_path / "p").glob("*.png"))) == 4
    result = runner.invoke(
        main,
        [
            "stage1",
            "--data",
            str(data),
            "--scribbles",
            "tiny_scribble_r2",
            "--out",
            str(run),
            "--train-split",
            "val2017",
            "--backbone",
            "vit_nonexistent",
        ],
    )
    assert result.exit_code == 2 and result.stderr == "error: unknown timm model 'vit_nonexistent'\n"
    result = runner.invoke(
        main,
        [
            "pseudo",
            "--data",
            str(data),
            "--checkpoint",
            str(tmp_path / "none.pt"),
            "--scribbles",
            "tiny_scribble_r2",
            "--out",
            str(tmp_path / "q"),
        ],
    )
    assert result.exit_code == 2 and result.stderr.strip().endswith("none.pt: checkpoint not found")


def test_pseudo_label_variants_and_the_grid_ceiling(data: Path, tmp_path: Path) -> None:
    config, settings = make_stage1_config("coco", **TINY_VIT), replace(QUIET, max_steps=1)
    train_stage1(data, "tiny_scribble_r1", tmp_path / "s1", config, CPU, settings=settings, split="val2017")
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "pseudo_labels.py"
    command = [sys.executable, str(script), "--data", str(data), "--checkpoint", str(tmp_path / "s1/last.pt")]
    command += ["--scribbles", "tiny_scribble_r1", "--split", "val2017", "--sample", "2", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert list(result["variants"]) == [name for name, _, _ in VARIANTS] and result["images"] == 2
    for scores in result["variants"].values():  # a 1-step head is sure of nothing: no label, no mIoU
        assert 0 <= scores["miou"] <= 1 if scores["uncertain_share"] < 1 else scores["miou"] != scores["miou"]
    assert result["ceiling"]["patch"] == 16 and 0 < result["ceiling"]["miou"] < 1
    names = (data / "ImageSets/SegmentationAug/val.txt").read_text().split()
    assert grid_ceiling(data, names, patch=1, scale=1.0, num_classes=81)["miou"] == 1.0  # the pixel grid loses nothing
    assert grid_ceiling(data, names, patch=10**6, scale=1.0, num_classes=81)["miou"] < 0.5  # one cell: one class

"""csptrain on a build with more than 255 classes: 16-bit labels in, 16-bit predictions out (issue 39's bar)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from click.testing import CliRunner
from dataset_fixtures import _shrink_build, wide_coco_file
from PIL import Image

from csptrain.cli import main
from csptrain.data.labels import IGNORE, labels_png, read_labels
from scribblesim.cli.main import main as scribblesim_main
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
from scribblesim.sets.scribble_set import read_label_map

#: Sample images whose objects include classes above 255 once renumbered (ids 220..299); 74 has no
#: annotation, so the build leaves it out.
IDS = (30, 72, 73, 74)
TINY = ["--backbone", "resnet18", "--crop-size", "64", "--batch-size", "2", "--device", "cpu", "--workers", "0"]


def test_labels_are_read_as_uint16_and_written_at_the_depth_of_the_classes(tmp_path: Path) -> None:
    narrow = np.array([[0, 3, 255]], np.uint8)
    (tmp_path / "narrow.png").write_bytes(labels_png(narrow, 21))
    assert Image.open(tmp_path / "narrow.png").mode == "L"
    assert read_labels(tmp_path / "narrow.png").tolist() == [[0, 3, IGNORE]]
    wide = np.array([[0, 299, IGNORE]], np.int64)
    (tmp_path / "wide.png").write_bytes(labels_png(wide, 300))
    assert Image.open(tmp_path / "wide.png").mode == "I;16"
    assert read_labels(tmp_path / "wide.png").tolist() == [[0, 299, IGNORE]]
    assert read_label_map(tmp_path / "wide.png").dtype == np.uint16


def test_stage2_eval_and_predict_on_a_300_class_build(tmp_path: Path) -> None:
    data = tmp_path / "data"
    build = [
        "build",
        "coco",
        "--annotations",
        str(wide_coco_file(tmp_path / "wide.json", image_ids=IDS)),
        "--images",
        str(coco_sample_root() / COCO_SAMPLE_SPLIT),
        "--out",
        str(data),
        "--prefix",
        "tiny",
        "--seeds",
        "1",
        "--jobs",
        "1",
        "--no-progress",
    ]
    built = CliRunner().invoke(scribblesim_main, build)
    assert built.exit_code == 0, built.output
    _shrink_build(data, 4)
    (list_file,) = (data / "ImageSets/SegmentationAug").glob("*.txt")
    (data / "ImageSets/SegmentationAug/val.txt").write_text(list_file.read_text())
    scribbled = {int(v) for png in (data / "tiny_scribble_r1").glob("*.png") for v in np.unique(read_labels(png))}
    assert max(scribbled - {IGNORE}) > 255  # the scribbles hold classes a uint8 label map cannot

    runner = CliRunner()
    run = tmp_path / "run"
    train = ["stage2", "--data", data, "--train-split", list_file.stem, "--scribbles", "tiny_scribble_r1", "--out", run]
    trained = runner.invoke(main, [*map(str, train), *TINY, "--max-steps", "10", "--no-progress", "--preset", "coco"])
    assert trained.exit_code == 0, trained.output
    checkpoint = run / "last.pt"
    saved = tmp_path / "eval"
    evaluated = runner.invoke(
        main,
        ["eval", "--data", str(data), "--checkpoint", str(checkpoint), "--save-predictions", str(saved), *TINY[-4:]],
    )
    assert evaluated.exit_code == 0, evaluated.output
    assert "mIoU" in evaluated.output and "extra 0" in evaluated.output  # every one of the 300 classes listed
    names = list_file.read_text().split()
    assert sorted(png.stem for png in saved.glob("*.png")) == sorted(names)
    assert all(Image.open(png).mode == "I;16" for png in saved.glob("*.png"))

    predicted = tmp_path / "predicted"
    result = runner.invoke(
        main,
        ["predict", str(data / "JPEGImages"), "--checkpoint", str(checkpoint), "--out", str(predicted), *TINY[-4:]],
    )
    assert result.exit_code == 0, result.output
    outputs = sorted(predicted.glob("*.png"))
    assert sorted(png.stem for png in outputs) == sorted(names)
    for png in outputs:
        assert Image.open(png).mode == "I;16"
        assert read_label_map(png).max() < 300

"""More than 254 classes: 16-bit label maps and PNGs (65535 unlabelled), from the engine to every reader."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest
from click.testing import CliRunner
from dataset_fixtures import wide_coco_file
from PIL import Image

import scribblesim
from scribblesim.cli.main import main
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
from scribblesim.datasets.volumes import write_label_volume
from scribblesim.errors import ConfigError
from scribblesim.sets.files import label_png_bytes
from scribblesim.sets.scribble_set import read_label_map

#: Class count of the wide COCO file, background aside: the sample's 80 become ids 220..299.
CLASSES = 299


def build(tmp_path: Path, *options: str) -> tuple[object, Path]:
    out = tmp_path / "out"
    images = coco_sample_root() / COCO_SAMPLE_SPLIT
    result = CliRunner().invoke(
        main,
        [
            "build",
            "coco",
            "--annotations",
            str(wide_coco_file(tmp_path / "wide.json")),
            "--images",
            str(images),
            "--out",
            str(out),
            "--seeds",
            "1",
            "--jobs",
            "1",
            "--no-progress",
            *options,
        ],
    )
    return result, out


def test_class_ids_above_254_give_a_16_bit_map() -> None:
    mask = np.zeros((40, 60), bool)
    mask[8:32, 10:50] = True
    wide = scribblesim.simulate([mask], [300], seed=1)
    assert wide.label_map.dtype == np.uint16 and set(np.unique(wide.label_map).tolist()) == {0, 300, 65535}
    narrow = scribblesim.simulate([mask], [3], seed=1)
    assert narrow.label_map.dtype == np.uint8
    # asked for 16 bits, the same strokes with 65535 for 255
    widened = scribblesim.simulate([mask], [3], seed=1, label_dtype=np.uint16).label_map
    assert np.array_equal(np.where(widened == 65535, 255, widened), narrow.label_map)
    assert scribblesim.semantic_map([mask], [300]).dtype == np.uint16
    with pytest.raises(ConfigError, match="uint8 holds class ids up to 254"):
        scribblesim.simulate([mask], [300], label_dtype=np.uint8)
    with pytest.raises(ConfigError, match="1..65534"):
        scribblesim.simulate([mask], [65535])


def test_16_bit_label_pngs_round_trip(tmp_path: Path) -> None:
    wide = np.array([[0, 255, 300], [65534, 65535, 7]], np.uint16)
    (tmp_path / "wide.png").write_bytes(label_png_bytes(wide, "gray16"))
    assert Image.open(tmp_path / "wide.png").mode == "I;16"
    read = read_label_map(tmp_path / "wide.png")
    assert read.dtype == np.uint16 and np.array_equal(read, wide)
    # an 8-bit map written as 16 bits keeps its classes, its 255 becomes 65535
    (tmp_path / "narrow.png").write_bytes(label_png_bytes(np.array([[0, 3, 255]], np.uint8), "gray16"))
    assert read_label_map(tmp_path / "narrow.png").tolist() == [[0, 3, 65535]]
    with pytest.raises(ValueError, match="does not fit a uint8 label map"):
        label_png_bytes(wide, "gray")


def test_a_300_class_build_writes_16_bit_labels_that_every_reader_takes(tmp_path: Path) -> None:
    result, out = build(tmp_path)
    assert result.exit_code == 0, result.output
    assert f"{CLASSES} classes: 16-bit label PNGs (--label-png gray16, 65535 unlabelled)" in result.output
    meta = json.loads((out / "meta.json").read_text())
    assert meta["label_png"] == "gray16" and meta["ignore_index"] == 65535 and len(meta["palette"]) == CLASSES + 1
    (folder,) = out.glob("*_scribble_r1")
    scribbles = sorted(folder.glob("*.png"))
    assert len(scribbles) == 32
    truths = sorted((out / "SegmentationClassAug").glob("*.png"))
    values = set()
    for png in scribbles + truths:
        labels = read_label_map(png)
        assert labels.dtype == np.uint16
        values |= set(np.unique(labels).tolist())
    assert max(values - {65535}) == CLASSES and 255 in values  # 255 is a class here
    # scribble pixels carry the ground truth's class
    for png in scribbles:
        labels, truth = read_label_map(png), read_label_map(out / "SegmentationClassAug" / png.name)
        drawn = labels != 65535
        assert np.array_equal(labels[drawn], truth[drawn]) and drawn.mean() < 0.5

    runner = CliRunner()
    preview = runner.invoke(main, ["preview", str(out), "--seed", "1", "--out", str(tmp_path / "preview")])
    assert preview.exit_code == 0, preview.output
    stats = runner.invoke(main, ["stats", str(out), "--seed", "1", "--out", str(tmp_path / "stats")])
    assert stats.exit_code == 0, stats.output
    assert json.loads((tmp_path / "stats" / "summary.json").read_text())["objects"] > 0
    degraded = runner.invoke(main, ["degrade", str(out), "--seed", "1", "--shrink", "0.5"])
    assert degraded.exit_code == 0, degraded.output
    for png in sorted(out.glob("*_scribble_r1_shrink0.5/*.png")):
        assert read_label_map(png).dtype == np.uint16
    # exported and imported back: the same 16-bit pixels
    exported = tmp_path / "strokes.json"
    assert runner.invoke(main, ["export", "coco", str(out), "--seed", "1", "--out", str(exported)]).exit_code == 0
    imported = runner.invoke(main, ["import", "coco", str(exported), "--out", str(out), "--seed", "9"])
    assert imported.exit_code == 0, imported.output
    for png in scribbles:
        before, after = read_label_map(png), read_label_map(folder.with_name(folder.name[:-1] + "9") / png.name)
        same = ((before != 65535) & (before == after)).sum()
        assert after.dtype == np.uint16 and same / ((before != 65535) | (after != 65535)).sum() >= 0.99


def test_an_8_bit_mode_for_300_classes_is_one_line(tmp_path: Path) -> None:
    result, _ = build(tmp_path, "--label-png", "palette")
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1
    assert "--label-png palette: holds class ids up to 254, this dataset has 299 classes" in lines[0]


def test_label_volumes_keep_class_ids_above_255(tmp_path: Path) -> None:
    like = tmp_path / "like.h5"
    with h5py.File(like, "w") as handle:
        handle.create_dataset("image", data=np.zeros((2, 4, 5), np.float32))
    labels = np.zeros((2, 4, 5), np.int64)
    labels[1, 2, 3] = 300
    write_label_volume(labels, like, tmp_path / "wide.h5")
    write_label_volume(np.minimum(labels, 7), like, tmp_path / "narrow.h5")
    with h5py.File(tmp_path / "wide.h5") as wide, h5py.File(tmp_path / "narrow.h5") as narrow:
        assert wide["label"].dtype == np.uint16 and int(wide["label"][1, 2, 3]) == 300
        assert narrow["label"].dtype == np.uint8 and int(narrow["label"][1, 2, 3]) == 7

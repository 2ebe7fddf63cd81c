"""``build semantic``: datasets with semantic masks only; each class's components are its instances."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from dataset_fixtures import coco_images, write_voc
from PIL import Image
from scipy import ndimage

from scribblesim.cli.main import main
from scribblesim.datasets.folder import read_class_table
from scribblesim.datasets.semantic import semantic_samples
from scribblesim.datasets.voc import CLASS_NAMES as VOC_CLASS_NAMES


def voc_root(tmp_path: Path) -> Path:
    """A VOC tree of real COCO masks: SegmentationClass palette PNGs with a 255 void band."""
    root = tmp_path / "voc"
    write_voc(root, coco_images(4))
    table = {"classes": {str(k): name for k, name in enumerate(VOC_CLASS_NAMES) if k > 0}}
    (tmp_path / "classes.json").write_text(json.dumps(table))
    return root


def build(tmp_path: Path, out: str, *extra) -> object:
    root = voc_root(tmp_path) if not (tmp_path / "voc").is_dir() else tmp_path / "voc"
    args = ["build", "semantic", "--masks", root / "SegmentationClass", "--images", root / "JPEGImages"]
    args += ["--classes", tmp_path / "classes.json", "--seeds", "1", "--no-progress", "--out", tmp_path / out, *extra]
    return CliRunner().invoke(main, [str(a) for a in args])


def test_components_become_instances_and_scribbles_keep_their_class(tmp_path: Path) -> None:
    result = build(tmp_path, "out", "--jobs", "1")
    assert result.exit_code == 0, result.output
    out, masks = tmp_path / "out", tmp_path / "voc" / "SegmentationClass"
    records = {
        json.loads(line)["image"]: json.loads(line) for line in (out / "strokes_r1.jsonl").read_text().splitlines()
    }
    for png in sorted(masks.glob("*.png")):
        mask = np.asarray(Image.open(png))
        assert np.array_equal(np.asarray(Image.open(out / "SegmentationClassAug" / png.name)), mask)
        scribbles = np.asarray(Image.open(out / "semantic_train_scribble_r1" / png.name))
        drawn = scribbles != 255
        assert np.array_equal(scribbles[drawn], mask[drawn])  # every pixel on its own class, background included
        components = sum(
            ndimage.label(mask == c, structure=np.ones((3, 3)))[1] for c in np.unique(mask) if c not in (0, 255)
        )
        record = records[png.stem]
        objects = [s for s in record["strokes"] if s["instance"] is not None]
        assert len({s["instance"] for s in objects}) + len(record["skipped"]) == components  # a stroke or a reason
    # stats takes the ground truth's components as the true instances, which they are
    stats = CliRunner().invoke(main, ["stats", str(out), "--seed", "1", "--out", str(tmp_path / "stats")])
    assert stats.exit_code == 0, stats.output
    assert json.loads((tmp_path / "stats" / "summary.json").read_text())["objects_from"] == "dataset"


def test_any_worker_count_gives_the_same_bytes(tmp_path: Path) -> None:
    assert build(tmp_path, "one", "--jobs", "1").exit_code == 0
    assert build(tmp_path, "two", "--jobs", "2").exit_code == 0
    for path in sorted((tmp_path / "one").rglob("*")):
        if path.is_file() and path.name != "meta.json":
            assert path.read_bytes() == (tmp_path / "two" / path.relative_to(tmp_path / "one")).read_bytes(), path


def test_ignore_and_minimum_area(tmp_path: Path) -> None:
    """ADE20K's 0 is "other": with --ignore 0 nothing is background, and 0 becomes 255 in the ground truth."""
    masks = tmp_path / "masks"
    masks.mkdir()
    ids = np.zeros((40, 60), np.uint8)
    ids[5:20, 5:25], ids[25:35, 30:55], ids[2:4, 50:52] = 1, 2, 2  # the last: 4 px
    Image.fromarray(ids).save(masks / "a.png")
    (tmp_path / "classes.json").write_text(json.dumps({"classes": {"1": "wall", "2": "floor"}}))
    table = read_class_table(tmp_path / "classes.json")
    (sample,) = semantic_samples(masks, table, ignore=0)
    loaded = sample.load()
    assert sorted(loaded.classes.tolist()) == [1, 2, 2] and loaded.ignore.sum() == (ids == 0).sum()
    assert set(np.unique(loaded.semantic)) == {1, 2, 255}
    args = ["build", "semantic", "--masks", masks, "--classes", tmp_path / "classes.json", "--ignore", "0"]
    args += ["--min-area", "10", "--seeds", "1", "--jobs", "1", "--no-progress", "--out", tmp_path / "out"]
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "strokes_r1.jsonl").read_text())
    reasons = sorted(s["reason"] for s in record["skipped"])
    assert reasons == ["background part 0: no background pixels", "too small (4 px <= min_area 10)"]
    assert not [s for s in record["strokes"] if s["style"] == "background"]


def test_bad_masks_and_tables_are_one_line(tmp_path: Path) -> None:
    masks = tmp_path / "masks"
    masks.mkdir()
    Image.fromarray(np.full((8, 8), 7, np.uint8)).save(masks / "a.png")
    (tmp_path / "classes.json").write_text(json.dumps({"classes": {"1": "cat"}}))
    args = ["build", "semantic", "--masks", masks, "--classes", tmp_path / "classes.json", "--jobs", "1"]
    result = CliRunner().invoke(main, [str(a) for a in [*args, "--no-progress", "--out", tmp_path / "out"]])
    assert result.exit_code == 2 and "no image built" in result.output  # its one image skipped, the reason recorded
    meta = json.loads((tmp_path / "out" / "meta.json").read_text())
    assert "class ids [7] are not in the class table" in json.dumps(meta)
    result = CliRunner().invoke(main, [str(a) for a in [*args, "--ignore", "1", "--out", tmp_path / "o2"]])
    assert result.exit_code == 2 and result.output.strip().endswith("class id 1 is also the ignore value")

"""build cityscapes / voc / folder on generated files made of real COCO masks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dataset_fixtures import CITYSCAPES_TO_CLASS, coco_images, write_cityscapes, write_folder, write_voc
from PIL import Image

from scribblesim import SimConfig
from scribblesim.cli.main import main
from scribblesim.datasets.cityscapes import CLASS_NAMES as CITYSCAPES_CLASSES
from scribblesim.datasets.cityscapes import cityscapes_samples
from scribblesim.engine.simulate import background_parts


def run_cli(*args: str):
    return CliRunner().invoke(main, [*args, "--no-progress", "--jobs", "1"], catch_exceptions=True)


def read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture(scope="module")
def samples():
    return coco_images(3)


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory, samples):
    root = tmp_path_factory.mktemp("cityscapes")
    names = write_cityscapes(root, samples)
    out = root / "out"
    # two of the three images have no Cityscapes instance (left out by default): keep them here
    result = run_cli(
        "build",
        "cityscapes",
        "--root",
        str(root),
        "--split",
        "train",
        "--out",
        str(out),
        "--seeds",
        "1",
        "2",
        "--keep-empty",
    )
    assert result.exit_code == 0, result.output
    return root, out, names


def test_cityscapes_class_mapping(cityscapes) -> None:
    root, out, names = cityscapes
    for name in names:
        ids = read(next(root.glob(f"gtFine/train/*/{name}_gtFine_instanceIds.png"))).astype(np.int64)
        label = np.where(ids >= 1000, ids // 1000, ids)
        expected = np.zeros(ids.shape, np.uint8)
        for label_id, class_id in CITYSCAPES_TO_CLASS.items():
            expected[label == label_id] = class_id
        assert np.array_equal(read(out / "SegmentationClassAug" / f"{name}.png"), expected)
        scribble = read(out / "cityscapes_train_scribble_r1" / f"{name}.png")
        labelled = scribble != 255
        assert np.array_equal(scribble[labelled], expected[labelled])
        assert not np.any(labelled & (ids < 1000) & (expected > 0)), "a group region got scribbled"
    assert json.loads((out / "meta.json").read_text())["classes"] == CITYSCAPES_CLASSES


def test_cityscapes_background_split_by_the_band(cityscapes) -> None:
    _, out, names = cityscapes
    for line in (out / "strokes_r1.jsonl").read_text().splitlines():
        record = json.loads(line)
        background = [np.array(s["points"]) for s in record["strokes"] if s["style"] == "background"]
        height = read(out / "SegmentationClassAug" / f"{record['image']}.png").shape[0]
        upper, lower = background_parts(height, SimConfig(background_split="horizontal"))
        # every stroke lies in one part, and both parts have one
        in_upper = [p[:, 1].max() < upper.stop for p in background]
        assert all(up or p[:, 1].min() >= lower.start - 0.5 for up, p in zip(in_upper, background))
        assert set(in_upper) == {True, False}
        scribble = read(out / "cityscapes_train_scribble_r1" / f"{record['image']}.png")
        assert not (scribble[upper.stop : lower.start] == 0).any()
        assert (scribble[upper] == 0).any() and (scribble[lower] == 0).any()


def test_cityscapes_layout(cityscapes) -> None:
    _, out, names = cityscapes
    assert (out / "ImageSets/SegmentationAug/train.txt").read_text().split() == sorted(names)
    for name in names:
        assert (out / "JPEGImages" / f"{name}.png").is_symlink()
        assert (out / "cityscapes_train_scribble_r2" / f"{name}.png").is_file()


def test_cityscapes_ids_are_string_seeded(cityscapes) -> None:
    root, _, names = cityscapes
    assert [s.load().image_id for s in cityscapes_samples(root, "train")] == names


def test_cityscapes_corrupt_png_is_a_recorded_skip(tmp_path: Path, samples) -> None:
    names = write_cityscapes(tmp_path, samples[:2])
    bad = next(tmp_path.glob(f"gtFine/train/*/{names[0]}_gtFine_instanceIds.png"))
    bad.write_bytes(b"not a png")
    result = run_cli("build", "cityscapes", "--root", str(tmp_path), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    assert f"skipped image {names[0]}" in result.stderr and str(bad) in result.stderr
    assert (tmp_path / "out/ImageSets/SegmentationAug/train.txt").read_text().split() == names[1:]


def test_cityscapes_missing_split_is_an_error(tmp_path: Path) -> None:
    tmp_path.joinpath("gtFine").mkdir()
    result = run_cli("build", "cityscapes", "--root", str(tmp_path), "--split", "val")
    assert result.exit_code == 2 and "gtFine/val: split folder not found" in result.stderr


def test_voc(tmp_path: Path, samples) -> None:
    root = tmp_path / "VOC2012"
    names = write_voc(root, samples)
    out = tmp_path / "out"
    result = run_cli("build", "voc", "--root", str(root), "--out", str(out))
    assert result.exit_code == 0, result.output
    for name in names:
        truth = read(root / "SegmentationClass" / f"{name}.png")
        assert np.array_equal(read(out / "SegmentationClassAug" / f"{name}.png"), truth)
        scribble = read(out / "voc_train_scribble_r1" / f"{name}.png")
        labelled = scribble != 255
        assert labelled.any() and np.array_equal(scribble[labelled], truth[labelled])
        assert not np.any(labelled & (truth == 255)), "a void pixel got scribbled"
        objects = set(np.unique(read(root / "SegmentationObject" / f"{name}.png")).tolist()) - {0, 255}
        record = next(
            json.loads(line)
            for line in (out / "strokes_r1.jsonl").read_text().splitlines()
            if json.loads(line)["image"] == name
        )
        covered = {s["instance"] for s in record["strokes"]} | {s["instance"] for s in record["skipped"]}
        assert covered - {None} == set(range(len(objects)))


def test_folder(tmp_path: Path, samples) -> None:
    instances, images, table = write_folder(tmp_path, samples)
    out = tmp_path / "out"
    result = run_cli(
        "build",
        "folder",
        "--instances",
        str(instances),
        "--classes",
        str(table),
        "--images",
        str(images),
        "--out",
        str(out),
    )
    assert result.exit_code == 0, result.output
    for n, sample in enumerate(samples):
        name = f"img_{n:03d}"
        assert np.array_equal(read(out / "SegmentationClassAug" / f"{name}.png"), sample.semantic)
        scribble = read(out / "folder_train_scribble_r1" / f"{name}.png")
        labelled = scribble != 255
        assert np.array_equal(scribble[labelled], sample.semantic[labelled])
        assert (out / "JPEGImages" / f"{name}.jpg").is_symlink()


def test_folder_unknown_instance_and_bad_table(tmp_path: Path, samples) -> None:
    instances, images, table = write_folder(tmp_path, samples[:2])
    data = json.loads(table.read_text())
    data["instances"].pop(next(iter(data["instances"])))
    table.write_text(json.dumps(data))
    result = run_cli(
        "build", "folder", "--instances", str(instances), "--classes", str(table), "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 0 and "have no class in" in result.stderr
    table.write_text('{"classes": {"300": "x"}}')
    result = run_cli(
        "build", "folder", "--instances", str(instances), "--classes", str(table), "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 2 and "class ids must lie in 1..254" in result.stderr
    table.write_text("[")
    result = run_cli(
        "build", "folder", "--instances", str(instances), "--classes", str(table), "--out", str(tmp_path / "o")
    )
    assert result.exit_code == 2 and "classes.json: not valid JSON" in result.stderr


def test_dataset_registry_names_what_it_can_reread() -> None:
    from scribblesim.datasets.registry import DATASETS, dataset_adapter
    from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
    from scribblesim.errors import DatasetError

    assert sorted(DATASETS) == ["cityscapes", "coco", "voc"]
    assert dataset_adapter("cityscapes").background_split == "horizontal"
    assert dataset_adapter("coco").background_split == dataset_adapter("voc").background_split == "none"
    coco = dataset_adapter("coco").read(coco_sample_root(), COCO_SAMPLE_SPLIT)  # what build coco reads
    assert coco.prefix == "coco2017_train" and len(coco.class_names) == 81 and coco.notes is None
    assert len(coco.samples) == 33
    with pytest.raises(
        DatasetError, match=r"^--root: cannot re-read instances of a 'folder' build \(coco, cityscapes, voc only\)$"
    ):
        dataset_adapter("folder", "--root")


@pytest.mark.parametrize(
    "name, reason, extra",
    [
        ("000000000009", "hidden by later objects or ignored pixels", {}),
        ("café_0001", "too small (3 px <= min_area 5)", {}),
        ("tab\there", 'quoted "reason"\nand a backslash \\ and DEL \x7f', {}),
        ("ids", "large", {"source": {1: "int key"}, "big": 2**70}),
    ],
    ids=["plain", "non-ascii", "escapes", "int-keys"],
)
def test_record_lines_are_the_standard_librarys_json(name, reason, extra) -> None:
    """orjson writes stroke records only where its bytes are json's own."""
    from scribblesim.engine.result import Skip, Stroke
    from scribblesim.sets.layout import record_line, stroke_record

    strokes = [
        Stroke(np.array([[0.004, -0.004], [12.345, 1e6 / 3]]), 3, 0, "line"),
        Stroke(np.zeros((1, 2)), 0, None, "background"),
    ]
    record = stroke_record(name, strokes, [Skip(1, "too small", reason).to_dict()], **extra)
    assert record_line(record) == (json.dumps(record, separators=(",", ":")) + "\n").encode()

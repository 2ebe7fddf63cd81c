"""A build reads the way the authors' loader reads it; images without annotations are left out.

The authors' loader (Class-driven-Scribble-Promotion-Network, ``dataset.py``) lists
``ImageSets/SegmentationAug/train.txt`` / ``val.txt``, opens ``JPEGImages/{id}.jpg`` and
reads every label PNG with ``cv2.imread(path, cv2.IMREAD_GRAYSCALE)``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import cv2
import imageio.v3 as iio
import numpy as np
import pytest
from click.testing import CliRunner
from dataset_fixtures import coco_images, write_cityscapes, write_voc
from PIL import Image

from scribblesim.cli.main import main
from scribblesim.datasets.coco import coco_samples
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
from scribblesim.sets.layout import split_list_name, split_list_path

UNANNOTATED = "000000000508"  # the embedded sample's image without any annotation record
TRAIN_IDS = [30, 71, 72, 73, 86, 89, 508]
CROWD_ONLY = 72  # in the fixture copy, all its annotations become crowd regions
VAL_IDS = [92, 127, 165]


def run_cli(*args) -> object:
    return CliRunner().invoke(main, [*map(str, args), "--no-progress", "--jobs", "1"], catch_exceptions=True)


def pil(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


@pytest.fixture(scope="module")
def coco_root(tmp_path_factory) -> Path:
    """A COCO root with splits train2014 and val2014 made of embedded-sample images.

    train2014 holds the sample's unannotated image and one image whose annotations are all
    made crowd regions; the embedded sample itself is not changed.
    """
    root = tmp_path_factory.mktemp("coco")
    source = coco_sample_root()
    data = json.loads((source / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json").read_text())
    (root / "annotations").mkdir()
    for split, ids in (("train2014", TRAIN_IDS), ("val2014", VAL_IDS)):
        part = dict(data)
        part["images"] = [i for i in data["images"] if i["id"] in ids]
        part["annotations"] = [
            {**a, "iscrowd": 1} if a["image_id"] == CROWD_ONLY else a
            for a in data["annotations"]
            if a["image_id"] in ids
        ]
        (root / "annotations" / f"instances_{split}.json").write_text(json.dumps(part))
        (root / split).mkdir()
        for image in part["images"]:
            (root / split / image["file_name"]).symlink_to(source / COCO_SAMPLE_SPLIT / image["file_name"])
    return root


@pytest.fixture(scope="module")
def built(coco_root, tmp_path_factory) -> Path:
    """train2014 (seed 1, then seed 2) and val2014 (seed 1) built into one OUT."""
    out = tmp_path_factory.mktemp("built") / "out"
    for split, seeds in (("train2014", ["1"]), ("train2014", ["2"]), ("val2014", ["1"])):
        result = run_cli("build", "coco", "--root", coco_root, "--split", split, "--out", out, "--seeds", *seeds)
        assert result.exit_code == 0, result.output
    return out


def _truth(coco_root: Path, split: str) -> dict[str, np.ndarray]:
    return {s.name: s.load().semantic for s in coco_samples(coco_root, split)}


def test_authors_loader_reads_class_ids(built: Path, coco_root: Path) -> None:
    lists = built / "ImageSets" / "SegmentationAug"
    assert sorted(p.name for p in lists.iterdir()) == ["train.txt", "val.txt"]
    for role, split, prefix in (("train", "train2014", "coco2014_train"), ("val", "val2014", "coco2014_val")):
        ids = (lists / f"{role}.txt").read_text().split()
        truth = _truth(coco_root, split)
        assert ids == sorted(set(truth) - {UNANNOTATED})
        seeds = (1, 2) if role == "train" else (1,)
        for name in ids:
            jpeg = built / "JPEGImages" / f"{name}.jpg"
            assert jpeg.is_file() and cv2.imread(str(jpeg)) is not None
            label = built / "SegmentationClassAug" / f"{name}.png"
            gray = cv2.imread(str(label), cv2.IMREAD_GRAYSCALE)
            assert gray.dtype == np.uint8 and gray.ndim == 2
            np.testing.assert_array_equal(gray, truth[name])
            np.testing.assert_array_equal(pil(label), gray)
            np.testing.assert_array_equal(iio.imread(label), gray)
            np.testing.assert_array_equal(cv2.imread(str(label), cv2.IMREAD_UNCHANGED), gray)  # mmcv "unchanged"
            for seed in seeds:
                scribble = built / f"{prefix}_scribble_r{seed}" / f"{name}.png"
                ids_cv2 = cv2.imread(str(scribble), cv2.IMREAD_GRAYSCALE)
                np.testing.assert_array_equal(ids_cv2, pil(scribble))
                labelled = ids_cv2 != 255
                assert labelled.any() and np.array_equal(ids_cv2[labelled], gray[labelled])
    meta = json.loads((built / "meta.json").read_text())
    assert meta["label_png"] == "gray"
    assert {s: meta["splits"][s]["list_file"] for s in meta["splits"]} == {
        "train2014": "train.txt",
        "val2014": "val.txt",
    }


def test_unannotated_image_left_out_crowd_only_kept(built: Path) -> None:
    meta = json.loads((built / "meta.json").read_text())
    train = meta["splits"]["train2014"]
    assert train["left_out_images"] == [{"image": UNANNOTATED, "reason": "no annotations"}]
    assert train["images_left_out"] == 1 and train["images"] == len(TRAIN_IDS) - 1 and train["skipped_images"] == []
    assert meta["splits"]["val2014"]["images_left_out"] == 0
    assert not list(built.rglob(f"{UNANNOTATED}*"))
    assert UNANNOTATED not in (built / "strokes_r1.jsonl").read_text()
    crowd = f"{CROWD_ONLY:012d}"
    scribble = pil(built / "coco2014_train_scribble_r1" / f"{crowd}.png")
    assert set(np.unique(scribble).tolist()) == {0, 255}, "a crowd-only image gets background scribbles only"


def test_keep_empty_keeps_unannotated_image(built: Path, coco_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("build", "coco", "--root", coco_root, "--split", "train2014", "--out", out, "--keep-empty")
    assert result.exit_code == 0, result.output
    assert "left-out images: 0" in result.output
    ids = (out / "ImageSets/SegmentationAug/train.txt").read_text().split()
    assert UNANNOTATED in ids and len(ids) == len(TRAIN_IDS)
    scribble = cv2.imread(str(out / "coco2014_train_scribble_r1" / f"{UNANNOTATED}.png"), cv2.IMREAD_GRAYSCALE)
    assert set(np.unique(scribble).tolist()) == {0, 255}
    assert (out / "JPEGImages" / f"{UNANNOTATED}.jpg").is_file()
    split = json.loads((out / "meta.json").read_text())["splits"]["train2014"]
    assert split["keep_empty"] is True and split["left_out_images"] == [] and split["images"] == len(TRAIN_IDS)
    # the other images are the same files as in the default build
    for name in (built / "ImageSets/SegmentationAug/train.txt").read_text().split():
        assert (out / "coco2014_train_scribble_r1" / f"{name}.png").read_bytes() == (
            built / "coco2014_train_scribble_r1" / f"{name}.png"
        ).read_bytes()
    # dropping --keep-empty on a rerun would leave the kept image's files unlisted: refused
    result = run_cli("build", "coco", "--root", coco_root, "--split", "train2014", "--out", out)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "--keep-empty" in result.stderr


def test_palette_option(built: Path, coco_root: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("build", "coco", "--root", coco_root, "--split", "val2014", "--out", out, "--label-png", "palette")
    assert result.exit_code == 0, result.output
    assert json.loads((out / "meta.json").read_text())["label_png"] == "palette"
    for name in (out / "ImageSets/SegmentationAug/val.txt").read_text().split():
        for folder in ("SegmentationClassAug", "coco2014_val_scribble_r1"):
            with Image.open(out / folder / f"{name}.png") as image:
                assert image.mode == "P" and image.getpalette()[3:6] == [128, 0, 0]
                np.testing.assert_array_equal(np.asarray(image), pil(built / folder / f"{name}.png"))
    result = run_cli("build", "coco", "--root", coco_root, "--split", "val2014", "--out", out, "--seeds", "2")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {out}: built with --label-png palette (not gray); rerun with those, "
        "build into another --out, or pass --overwrite to start over\n"
    )
    assert not (out / "coco2014_val_scribble_r2").exists()


def test_two_splits_of_one_role_refused(built: Path) -> None:
    result = run_cli("build", "coco", "--split", COCO_SAMPLE_SPLIT, "--out", built)  # the embedded train2017
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "split 'train2014' already writes ImageSets/SegmentationAug/train.txt" in result.stderr


def test_split_list_names() -> None:
    assert [split_list_name(s) for s in ("train2014", "train", "val2017", "validation", "test", "minival")] == [
        "train.txt",
        "train.txt",
        "val.txt",
        "val.txt",
        "test.txt",
        "minival.txt",
    ]


def test_readers_find_lists_by_real_or_role_name(built: Path) -> None:
    from csptrain.data.layout import read_split, scribble_folder
    from scribblesim.errors import DatasetError

    lists = built / "ImageSets" / "SegmentationAug"
    assert split_list_path(built, "train2014") == split_list_path(built, "train") == lists / "train.txt"
    assert read_split(built, "train2014") == read_split(built, "train") == (lists / "train.txt").read_text().split()
    assert read_split(built, "val2014") == read_split(built, "val") == (lists / "val.txt").read_text().split()
    assert scribble_folder(built, "train", 2) == scribble_folder(built, "train2014", 2) == "coco2014_train_scribble_r2"
    assert scribble_folder(built, "val", 1) == "coco2014_val_scribble_r1"
    with pytest.raises(DatasetError, match="lists split 'train2014', not 'train2017'"):
        read_split(built, "train2017")
    with pytest.raises(DatasetError, match="test.txt: split file not found"):
        read_split(built, "test")


def test_stats_and_preview_take_role_names(built: Path, tmp_path: Path) -> None:
    from scribblesim.analysis.objects import object_source

    assert object_source(built, split="train").where.endswith("(train2014)")
    result = CliRunner().invoke(main, ["preview", str(built), "--seed", "1", "--out", str(tmp_path / "p"), "-n", "2"])
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def samples():
    return coco_images(2)


def _empty(sample):
    shape = sample.semantic.shape
    return dataclasses.replace(
        sample, masks=np.zeros((0, *shape), bool), classes=np.zeros(0, np.int64), semantic=np.zeros(shape, np.uint8)
    )


def test_voc_image_without_objects_left_out(tmp_path: Path, samples) -> None:
    root = tmp_path / "VOC2012"
    names = write_voc(root, [samples[0], _empty(samples[1])])
    out = tmp_path / "out"
    result = run_cli("build", "voc", "--root", root, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "ImageSets/SegmentationAug/train.txt").read_text().split() == names[:1]
    split = json.loads((out / "meta.json").read_text())["splits"]["train"]
    assert split["left_out_images"] == [{"image": names[1], "reason": "no object instances"}]
    assert not (out / "SegmentationClassAug" / f"{names[1]}.png").exists()
    result = run_cli("build", "voc", "--root", root, "--out", out, "--keep-empty")  # widening is allowed
    assert result.exit_code == 0, result.output
    assert (out / "ImageSets/SegmentationAug/train.txt").read_text().split() == names


def test_cityscapes_image_with_only_a_group_left_out(tmp_path: Path, samples) -> None:
    """The fixture writes each image's first Cityscapes-class object as a group (no instance id)."""
    only_group = dataclasses.replace(samples[1], masks=samples[1].masks[:1], classes=np.array([1]))  # a person
    names = write_cityscapes(tmp_path, [samples[1], only_group, _empty(samples[0])])  # 71 has 16 cars, buses...
    out = tmp_path / "out"
    result = run_cli("build", "cityscapes", "--root", tmp_path, "--out", out)
    assert result.exit_code == 0, result.output
    assert (out / "ImageSets/SegmentationAug/train.txt").read_text().split() == names[:1]
    split = json.loads((out / "meta.json").read_text())["splits"]["train"]
    assert split["left_out_images"] == [{"image": n, "reason": "no object instances"} for n in names[1:]]
    assert "left-out images: 2 (no object instances 2" in result.output

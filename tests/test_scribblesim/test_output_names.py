"""Every image gets an output name of its own: none shared, none reaching outside OUT, today's unchanged."""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from scribblesim.cli.main import main
from scribblesim.datasets.coco import coco_samples
from scribblesim.datasets.naming import image_names
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
from scribblesim.engine.config import SimConfig
from scribblesim.errors import DatasetError
from scribblesim.sets.build import BuildSpec, build

IDS = [30, 72, 73]
NAMES = [f"{i:012d}" for i in IDS]

part = st.sampled_from(["a", "b", "cam1", "x", "x.jpg", "x.png", "..", ".", "a__x", "", "y.tar.gz", "z\\w.jpg"])
paths = st.lists(st.lists(part, min_size=1, max_size=4).map("/".join), min_size=1, max_size=12)


@given(paths)
def test_names_are_unique_flat_and_keep_every_unique_stem(listed: list[str]) -> None:
    keys = [str(k) for k in range(len(listed))]  # every image its own key, as COCO's ids
    names = image_names(listed, keys)
    assert len(set(names)) == len(names) and all(names)
    assert not any("/" in name or "\\" in name or name in (".", "..") for name in names)
    files = [Path(path.replace("\\", "/")) for path in listed]
    stems = [file.stem for file in files]
    for path, file, stem, name in zip(listed, files, stems, names):
        # today's name, where it names a file (not a path ending in "..")
        if stems.count(stem) == 1 and file.name not in ("", ".."):
            assert name == stem, (path, name)
    assert image_names(listed, keys) == names  # stable


def test_names_say_where_the_image_lies() -> None:
    assert image_names(["a/x.jpg", "b/x.jpg", "c/y.jpg"]) == ["a__x", "b__x", "y"]
    repeated = image_names(["a/x.jpg", "a/x.png"])
    assert all(re.fullmatch(r"a__x-[0-9a-f]{8}", name) for name in repeated) and len(set(repeated)) == 2
    assert image_names(["../../etc/passwd", "../x.jpg", "x.jpg"], ["1", "2", "3"])[0] == "passwd"


def coco_root(tmp_path: Path, folders: list[str]) -> Path:
    """A COCO root whose split ``val`` lists the sample images ``IDS`` once under each of ``folders``."""
    source = coco_sample_root()
    data = json.loads((source / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json").read_text())
    images = [i for i in data["images"] if i["id"] in IDS]
    annotations = [a for a in data["annotations"] if a["image_id"] in IDS]
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    data["images"], data["annotations"] = [], []
    for copy, folder in enumerate(folders):
        offset = 1000 * copy  # the same images under new ids
        for image in images:
            target = root / "val" / folder / image["file_name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / COCO_SAMPLE_SPLIT / image["file_name"], target)
            name = f"{folder}/{image['file_name']}" if folder else image["file_name"]
            data["images"].append({**image, "id": image["id"] + offset, "file_name": name})
        data["annotations"] += [
            {**a, "id": a["id"] + offset * 1000, "image_id": a["image_id"] + offset} for a in annotations
        ]
    (root / "annotations" / "instances_val.json").write_text(json.dumps(data))
    return root


def build_val(root: Path, out: Path) -> None:
    args = ["build", "coco", "--root", root, "--split", "val", "--out", out, "--jobs", "1", "--no-progress"]
    result = CliRunner().invoke(main, list(map(str, args)))
    assert result.exit_code == 0, result.output


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def test_the_same_base_names_in_two_folders_are_both_built(tmp_path: Path) -> None:
    build_val(coco_root(tmp_path / "plain", [""]), tmp_path / "plain-out")
    out = tmp_path / "out"
    build_val(coco_root(tmp_path / "two", ["a", "b"]), out)
    listed = (out / "ImageSets/SegmentationAug/val.txt").read_text().split()
    labels = sorted(p.stem for p in (out / "SegmentationClassAug").glob("*.png"))
    assert sorted(listed) == labels == sorted(f"{folder}__{name}" for folder in "ab" for name in NAMES)
    assert sorted(p.stem for p in (out / "coco_val_scribble_r1").glob("*.png")) == labels
    for name in NAMES:
        plain = read(tmp_path / "plain-out/SegmentationClassAug" / f"{name}.png")
        for folder in "ab":
            assert np.array_equal(read(out / "SegmentationClassAug" / f"{folder}__{name}.png"), plain)
            assert (out / "JPEGImages" / f"{folder}__{name}.jpg").resolve() == (
                tmp_path / "two/coco/val" / folder / f"{name}.jpg"
            ).resolve()
    # the names of a plain build are today's names
    assert sorted((tmp_path / "plain-out/ImageSets/SegmentationAug/val.txt").read_text().split()) == NAMES


def test_a_file_name_with_dot_dot_writes_nothing_outside_out(tmp_path: Path) -> None:
    root = coco_root(tmp_path, ["../../escape"])  # the images lie outside the root, two levels up
    before = {p for p in tmp_path.rglob("*")}
    out = tmp_path / "work" / "out"
    build_val(root, out)
    written = {p for p in tmp_path.rglob("*")} - before
    assert written and all(out in p.parents or p == out or p in out.parents for p in written)
    assert sorted((out / "ImageSets/SegmentationAug/val.txt").read_text().split()) == NAMES


def test_two_samples_of_one_name_are_refused_by_the_python_api(tmp_path: Path) -> None:
    first, second = coco_samples(coco_root(tmp_path, [""]), "val")[:2]
    spec = BuildSpec(tmp_path / "out", "val", "api", (1,), SimConfig())
    with pytest.raises(DatasetError, match=f"two images are named '{first.name}'"):
        samples = [first, replace(second, name=first.name)]
        build(samples, spec, dataset="coco", class_names=["background"] * 81, jobs=1, progress=False)
    assert [p.stem for p in (tmp_path / "out" / "SegmentationClassAug").glob("*.png")] == [first.name]

"""Label Studio in and out: pre-annotations come back exactly; a team's brush, keypoint and polygon regions read as scribbles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from label_studio_converter.brush import mask2rle
from PIL import Image

from scribblesim.cli.main import main
from scribblesim.interchange.labelstudio import task_image_name

NAME = "000000000030"  # 640 x 428


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labelstudio") / "out"
    result = invoke("build", "coco", "--seeds", "1", "--jobs", "1", "--no-progress", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_pre_annotations_accepted_as_they_are_come_back_exactly(build: Path, tmp_path: Path) -> None:
    result = invoke(
        "export", "labelstudio", build, "--seed", "1", "--out", tmp_path, "--image-root", "/data/local-files/?d=coco"
    )
    assert result.exit_code == 0, result.output
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert tasks[0]["data"]["image"] == f"/data/local-files/?d=coco/{NAME}.jpg"
    assert '<Label value="potted plant"/>' in (tmp_path / "label_config.xml").read_text()
    for task in tasks:  # a reviewer accepts every prediction: Label Studio exports them as annotations
        task["annotations"] = [{"was_cancelled": False, "result": task["predictions"][0]["result"]}]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    result = invoke("import", "labelstudio", tmp_path / "export.json", "--out", build, "--seed", "9", "--overwrite")
    assert result.exit_code == 0, result.output
    for png in sorted((build / "coco2017_train_scribble_r1").glob("*.png")):
        again = build / "coco2017_train_scribble_r9" / png.name
        assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(again))), png.name


def region(kind: str, label: str, value: dict) -> dict:
    key = {"brushlabels": "brushlabels", "keypointlabels": "keypointlabels", "polygonlabels": "polygonlabels"}[kind]
    return {"type": kind, "original_width": 640, "original_height": 428, "value": {**value, key: [label]}}


def test_a_teams_regions_are_drawn_in_order(build: Path, tmp_path: Path) -> None:
    painted = np.zeros((428, 640), np.uint8)
    painted[100:104, 100:300] = 255
    results = [
        region("brushlabels", "Potted Plant", {"format": "rle", "rle": mask2rle(painted)}),
        region("keypointlabels", "background", {"x": 50.0, "y": 50.0}),  # percent: (320, 214)
        region("polygonlabels", "background", {"points": [[10, 80], [20, 80], [20, 90]]}),
        {"type": "choices", "value": {"choices": ["good"]}},  # no region: passed over
    ]
    tasks = [
        {"data": {"image": f"http://host/images/{NAME}.jpg?token=x"}, "annotations": [{"result": results}]},
        {"data": {"image": "/data/upload/1/000000000071.jpg"}, "annotations": [{"was_cancelled": True, "result": []}]},
    ]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    result = invoke("import", "labelstudio", tmp_path / "export.json", "--out", build, "--seed", "7", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "1 images" in result.output  # the cancelled annotation's image has none
    classes = json.loads((build / "meta.json").read_text())["classes"]
    drawn = np.asarray(Image.open(build / "coco2017_train_scribble_r7" / f"{NAME}.png"))
    plant = classes.index("potted plant")
    assert (drawn == plant).sum() == 800 and (drawn[100:104, 100:300] == plant).all()
    assert drawn[214, 320] == 0 and drawn[342, 64] == 0  # the keypoint, a polygon corner (80 % of 428)
    assert not (build / "coco2017_train_scribble_r7" / "000000000071.png").exists()


def test_image_names_from_every_kind_of_task_url() -> None:
    for image in ("/data/local-files/?d=my%20set/a%2Fb/x.jpg", "s3://bucket/x.png", "/data/upload/3/x.jpeg", "x.jpg"):
        assert task_image_name({"data": {"image": image}}, Path("e.json")) == "x"


@pytest.mark.parametrize(
    ("tasks", "said"),
    [
        ({"not": "a list"}, "expected a list of tasks"),
        ([{"data": {}}], "a task without data.image"),
        ([{"data": {"image": f"{NAME}.jpg"}, "annotations": [{"was_cancelled": True}]}], "nothing to import"),
        (
            [
                {
                    "data": {"image": f"{NAME}.jpg"},
                    "annotations": [{"result": [region("keypointlabels", "unicorn", {"x": 1, "y": 1})]}],
                }
            ],
            "label 'unicorn' names no class",
        ),
        ([{"data": {"image": "nowhere.jpg"}, "annotations": [{"result": []}]}], "image 'nowhere' is not in"),
        (
            [
                {
                    "data": {"image": f"{NAME}.jpg"},
                    "annotations": [
                        {
                            "result": [
                                region(
                                    "brushlabels", "dog", {"format": "rle", "rle": mask2rle(np.zeros((4, 4), np.uint8))}
                                )
                            ]
                        }
                    ],
                }
            ],
            "a brush region of 16 pixels on a 640x428 image",
        ),
    ],
)
def test_bad_exports_are_one_line(build: Path, tmp_path: Path, tasks, said: str) -> None:
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    result = invoke("import", "labelstudio", tmp_path / "export.json", "--out", build, "--seed", "8")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and said in lines[0], result.output


def test_good_tasks_are_imported_and_each_bad_one_named(build: Path, tmp_path: Path) -> None:
    dot = region("keypointlabels", "dog", {"x": 10.0, "y": 10.0})
    tasks = [
        {"data": {"image": f"{NAME}.jpg"}, "annotations": [{"result": [dot]}]},
        {"data": {"image": "000000000071.jpg"}, "annotations": [{"result": [{**dot, "original_width": 64}]}]},
        {"data": {"image": "gone.jpg"}, "annotations": [{"result": [dot]}]},
    ]
    (tmp_path / "export.json").write_text(json.dumps(tasks))
    result = invoke("import", "labelstudio", tmp_path / "export.json", "--out", build, "--seed", "5", "--overwrite")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 3, result.output
    assert lines[0].startswith(f"warning: {tmp_path / 'export.json'}: image '000000000071' is 64x428, the build's is")
    assert lines[1].endswith("image 'gone' is not in " + str(build))
    assert lines[2].endswith("1 images, 1 strokes; 2 refused (above)")

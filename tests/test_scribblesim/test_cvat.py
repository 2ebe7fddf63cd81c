"""CVAT for images 1.1 XML in and out: an exported set comes back exactly; a team's polylines, points,
masks and polygons read as scribbles."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from cvat_sdk.masks import encode_mask
from PIL import Image

from scribblesim.cli.main import main

NAME = "000000000030"  # 640 x 428


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cvat") / "out"
    result = invoke("build", "coco", "--seeds", "1", "--jobs", "1", "--no-progress", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def test_an_exported_set_comes_back_exactly(build: Path, tmp_path: Path) -> None:
    result = invoke("export", "cvat", build, "--seed", "1", "--out", tmp_path / "task.xml")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "task.xml").read_text()
    assert "<label><name>potted plant</name>" in text and f'name="{NAME}.jpg" width="640" height="428"' in text
    result = invoke("import", "cvat", tmp_path / "task.xml", "--out", build, "--seed", "9", "--overwrite")
    assert result.exit_code == 0, result.output
    for png in sorted((build / "coco2017_train_scribble_r1").glob("*.png")):
        again = build / "coco2017_train_scribble_r9" / png.name
        assert np.array_equal(np.asarray(Image.open(png)), np.asarray(Image.open(again))), png.name


def cvat_file(
    path: Path, shapes: str, name: str = f"frames/{NAME}.jpg", size: str = 'width="640" height="428"'
) -> Path:
    path.write_text(
        f'<?xml version="1.0"?>\n<annotations><version>1.1</version><image id="0" name="{name}" {size}>{shapes}</image></annotations>'
    )
    return path


def test_a_teams_shapes_are_drawn_by_layer(build: Path, tmp_path: Path) -> None:
    painted = np.zeros((428, 640), bool)
    painted[200:203, 100:300] = True
    *runs, left, top, right, bottom = encode_mask(painted)
    shapes = (
        '<polyline label="Potted Plant" points="100.0,100.0;300.0,100.0" z_order="0"/>'
        f'<mask label="dog" rle="{", ".join(map(str, runs))}" left="{left}" top="{top}" '
        f'width="{right - left + 1}" height="{bottom - top + 1}" z_order="1"></mask>'
        '<points label="background" points="320,214" z_order="0"/>'
        '<polygon label="background" points="10,10;60,10;60,60" z_order="0"/>'
        '<polyline label="person" points="150,90;150,110" z_order="-1"/>'  # beneath the plant's stroke
    )
    result = invoke(
        "import", "cvat", cvat_file(tmp_path / "t.xml", shapes), "--out", build, "--seed", "7", "--overwrite"
    )
    assert result.exit_code == 0, result.output
    classes = json.loads((build / "meta.json").read_text())["classes"]
    drawn = np.asarray(Image.open(build / "coco2017_train_scribble_r7" / f"{NAME}.png"))
    assert drawn[100, 150] == classes.index("potted plant") and drawn[95, 150] == classes.index("person")
    assert (drawn[painted] == classes.index("dog")).all() and drawn[214, 320] == 0 and drawn[10, 30] == 0


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ('<box label="dog" xtl="1" ytl="1" xbr="5" ybr="5"/>', "has a <box>, which is no scribble"),
        ('<polyline label="unicorn" points="1,1;5,5"/>', "label 'unicorn' names no class"),
        ('<polyline label="dog" points="1;5,5"/>', "are not x,y;x,y pairs"),
        ('<mask label="dog" rle="3, 4" left="0" top="0" width="2" height="2"/>', "a mask of label 'dog' is malformed"),
        ("<size>", "not valid XML"),
    ],
)
def test_bad_files_are_one_line(build: Path, tmp_path: Path, text: str, said: str) -> None:
    result = invoke("import", "cvat", cvat_file(tmp_path / "t.xml", text), "--out", build, "--seed", "8")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and said in lines[0], result.output


def test_images_must_be_the_builds(build: Path, tmp_path: Path) -> None:
    elsewhere = cvat_file(tmp_path / "a.xml", "", name="unknown.jpg")
    assert "image 'unknown' is not in" in invoke("import", "cvat", elsewhere, "--out", build, "--seed", "8").output
    resized = cvat_file(tmp_path / "b.xml", "", size='width="64" height="42"')
    assert "is 64x42, the build's is 640x428" in invoke("import", "cvat", resized, "--out", build, "--seed", "8").output


def test_good_images_are_imported_and_each_bad_one_named(build: Path, tmp_path: Path) -> None:
    xml = (
        '<annotations><image id="0" name="000000000030.jpg" width="640" height="428">'
        '<polyline label="dog" points="10,10;50,50"/></image>'
        '<image id="1" name="000000000071.jpg" width="640" height="426"><polyline label="dog" points="10,10"/></image>'
        "</annotations>"
    )
    (tmp_path / "t.xml").write_text(xml)
    result = invoke("import", "cvat", tmp_path / "t.xml", "--out", build, "--seed", "6", "--overwrite")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 2, result.output
    assert lines[0] == f"warning: {tmp_path / 't.xml'}: image '000000000071': a <polyline> of one point (label 'dog')"
    assert lines[1].endswith("1 images, 1 strokes; 1 refused (above)")
    assert sorted(p.name for p in (build / "coco2017_train_scribble_r6").glob("*.png")) == [f"{NAME}.png"]

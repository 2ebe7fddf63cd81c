"""``export coco`` and ``import coco``: a set's strokes as a COCO-format file that pycocotools reads
back onto the set's pixels, and that comes back as the set."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import numpy as np
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools.coco import COCO
from shapely.geometry import Point, Polygon

from scribblesim.cli.main import main
from scribblesim.engine.raster import stroke_pixels
from scribblesim.interchange.coco import brush_polygon


def test_every_stroke_is_an_annotation_that_pycocotools_fills_onto_its_pixels(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        CliRunner()
        .invoke(main, ["build", "coco", "--seeds", "1", "--jobs", "1", "--no-progress", "--out", str(out)])
        .exit_code
        == 0
    )
    result = CliRunner().invoke(
        main, ["export", "coco", str(out), "--seed", "1", "--out", str(tmp_path / "strokes.json")]
    )
    assert result.exit_code == 0, result.output
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO(str(tmp_path / "strokes.json"))
    strokes = sum(len(json.loads(line)["strokes"]) for line in (out / "strokes_r1.jsonl").read_text().splitlines())
    assert len(coco.anns) == strokes and coco.cats[0]["name"] == "background"
    for image in coco.dataset["images"]:
        name = image["file_name"].rsplit(".", 1)[0]
        labels = np.asarray(Image.open(out / "coco2017_train_scribble_r1" / f"{name}.png"))
        filled = np.full(labels.shape, 255, np.uint8)
        for annotation in coco.loadAnns(coco.getAnnIds(imgIds=image["id"])):
            filled[coco.annToMask(annotation) > 0] = annotation["category_id"]
            assert len(annotation["scribble"]) % 2 == 0 and annotation["style"] in ("background", "boundary", "line")
        scribbled = labels != 255
        assert (filled[scribbled] == labels[scribbled]).mean() >= 0.95, name  # pycocotools' fill of 3-px shapes
    # imported back: the polylines drawn again, clipped to their class as the file records
    result = CliRunner().invoke(
        main, ["import", "coco", str(tmp_path / "strokes.json"), "--out", str(out), "--seed", "9"]
    )
    assert result.exit_code == 0, result.output
    for png in sorted((out / "coco2017_train_scribble_r1").glob("*.png")):
        before = np.asarray(Image.open(png))
        after = np.asarray(Image.open(out / "coco2017_train_scribble_r9" / png.name))
        same = ((before != 255) & (before == after)).sum()
        assert same / (before != 255).sum() >= 0.99 and same / ((before != 255) | (after != 255)).sum() >= 0.99


def _agreement(out: Path, first: str, second: str) -> float:
    """Median over images of the pixels two sets label alike / the pixels either labels."""
    shares = []
    for png in sorted((out / f"coco2017_train_scribble_{first}").glob("*.png")):
        before = np.asarray(Image.open(png))
        after = np.asarray(Image.open(out / f"coco2017_train_scribble_{second}" / png.name))
        shares.append(((before != 255) & (before == after)).sum() / ((before != 255) | (after != 255)).sum())
    return float(np.median(shares))


def test_4_connected_lines_come_back_as_they_were_drawn(tmp_path: Path) -> None:
    out, style = tmp_path / "out", tmp_path / "style.json"
    style.write_text(json.dumps({"width": 1, "line_connectivity": 4}))
    runner = CliRunner()
    build = ["build", "coco", "--seeds", "1", "--jobs", "1", "--no-progress", "--out", str(out), "--style", str(style)]
    assert runner.invoke(main, build).exit_code == 0
    exported = tmp_path / "s.json"
    assert runner.invoke(main, ["export", "coco", str(out), "--seed", "1", "--out", str(exported)]).exit_code == 0
    data = json.loads(exported.read_text())
    assert data["info"]["scribblesim"]["line_connectivity"] == 4
    # 1-px lines move by a pixel where coordinates are rounded, at any connectivity
    assert runner.invoke(main, ["import", "coco", str(exported), "--out", str(out), "--seed", "8"]).exit_code == 0
    assert _agreement(out, "r1", "r8") >= 0.98
    data["info"]["scribblesim"]["line_connectivity"] = 8  # drawn back 8-connected, a third of the pixels go
    exported.write_text(json.dumps(data))
    assert runner.invoke(main, ["import", "coco", str(exported), "--out", str(out), "--seed", "9"]).exit_code == 0
    assert _agreement(out, "r1", "r9") < 0.8


def test_a_teams_coco_file_imports_its_good_images(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert (
        CliRunner()
        .invoke(main, ["build", "coco", "--seeds", "1", "--jobs", "1", "--no-progress", "--out", str(out)])
        .exit_code
        == 0
    )
    images = [
        {"id": 1, "file_name": "000000000030.jpg", "width": 640, "height": 428},
        {"id": 2, "file_name": "000000000071.jpg", "width": 640, "height": 426},
        {"id": 3, "file_name": "elsewhere.jpg", "width": 640, "height": 428},
    ]
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 18, "segmentation": [[10, 10, 60, 10, 60, 12, 10, 12]]},
        {"id": 2, "image_id": 2, "category_id": 18, "scribble": [5.5, 5.5]},
    ]
    data = {"images": images, "annotations": annotations, "categories": [{"id": 18, "name": "Dog"}]}
    (tmp_path / "team.json").write_text(json.dumps(data))
    result = CliRunner().invoke(main, ["import", "coco", str(tmp_path / "team.json"), "--out", str(out), "--seed", "4"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 3, result.output
    assert (
        lines[0] == f"warning: {tmp_path / 'team.json'}: image '000000000071': a scribble of one point (annotation 2)"
    )
    assert lines[1] == f"warning: {tmp_path / 'team.json'}: image 'elsewhere' is not in {out}"
    classes = json.loads((out / "meta.json").read_text())["classes"]
    drawn = np.asarray(Image.open(out / "coco2017_train_scribble_r4" / "000000000030.png"))
    assert (drawn == classes.index("dog")).sum() > 0 and set(np.unique(drawn)) == {classes.index("dog"), 255}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.floats(5, 90), st.floats(5, 90)), min_size=1, max_size=6),
    st.integers(1, 6),
)
def test_the_brush_polygon_holds_the_strokes_pixels(points, width) -> None:
    xy = np.asarray(points, dtype=np.float64)
    rows, cols = stroke_pixels(xy, (100, 100), width)
    polygons = brush_polygon(xy, width)
    shapes = [Polygon(np.reshape(p, (-1, 2))) for p in polygons]
    for row, col in zip(rows, cols):  # each pixel's centre, in COCO's coordinates, lies in (or on) the outline
        centre = Point(col + 0.5, row + 0.5)
        assert any(shape.distance(centre) < 0.75 for shape in shapes), (row, col)

"""labelme files in and out: an exported set comes back as it left; a human's file reads as a scribble set."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from labelme import LabelFile
from PIL import Image

from scribblesim.cli.main import main


def invoke(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("labelme") / "out"
    result = invoke("build", "coco", "--seeds", "1", "--jobs", "1", "--no-progress", "--out", out)
    assert result.exit_code == 0, result.output
    return out


def agreement(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """Of ``a``'s scribble pixels, the share ``b`` labels alike; and their IoU."""
    same = ((a != 255) & (a == b)).sum()
    return same / max(1, (a != 255).sum()), same / max(1, ((a != 255) | (b != 255)).sum())


def test_an_exported_set_comes_back_as_it_left(build: Path, tmp_path: Path) -> None:
    result = invoke("export", "labelme", build, "--seed", "1", "--out", tmp_path / "files")
    assert result.exit_code == 0, result.output
    files = sorted((tmp_path / "files").glob("*.json"))
    pngs = sorted((build / "coco2017_train_scribble_r1").glob("*.png"))
    assert [f.stem for f in files] == [p.stem for p in pngs]
    opened = LabelFile(str(files[0]))  # labelme opens it, image and all
    assert {s["shape_type"] for s in opened.shapes} == {"linestrip"}
    assert opened.other_data["scribblesim"] == {"set": "coco2017_train_scribble_r1", "width": 2, "clip_to_mask": True}
    result = invoke("import", "labelme", tmp_path / "files", "--out", build, "--seed", "9", "--overwrite")
    assert result.exit_code == 0, result.output
    for png in pngs:
        before = np.asarray(Image.open(png))
        after = np.asarray(Image.open(build / "coco2017_train_scribble_r9" / png.name))
        recall, iou = agreement(before, after)
        assert recall >= 0.99 and iou >= 0.99, (png.name, recall, iou)


def human_file(build: Path, folder: Path, shapes: list[dict], name: str = "000000000030") -> Path:
    """A labelme file as the tool saves it, beside a copy of the build's image."""
    folder.mkdir(exist_ok=True)
    image = next((build / "JPEGImages").glob(f"{name}.*"))
    shutil.copy(image, folder / image.name)
    with Image.open(image) as opened:
        width, height = opened.size
    full = [{"group_id": None, "description": "", "flags": {}, "mask": None, **shape} for shape in shapes]
    LabelFile().save(str(folder / f"{name}.json"), full, image.name, height, width)
    return folder / f"{name}.json"


def test_a_humans_strokes_are_drawn_with_their_class_and_spill_over(build: Path, tmp_path: Path) -> None:
    shapes = [
        {"label": "Potted Plant", "points": [[100, 100], [300, 100]], "shape_type": "linestrip"},
        {"label": "background", "points": [[20, 300], [20, 400]], "shape_type": "line"},
        {"label": "background", "points": [[600, 20]], "shape_type": "point"},
    ]
    human_file(build, tmp_path / "files", shapes)
    result = invoke("import", "labelme", tmp_path / "files", "--out", build, "--seed", "7", "--overwrite")
    assert result.exit_code == 0, result.output
    assert "1 images, 3 strokes" in result.output
    classes = json.loads((build / "meta.json").read_text())["classes"]
    drawn = np.asarray(Image.open(build / "coco2017_train_scribble_r7" / "000000000030.png"))
    assert drawn[100, 200] == classes.index("potted plant") and drawn[350, 20] == 0 and drawn[20, 600] == 0
    truth = np.asarray(Image.open(build / "SegmentationClassAug" / "000000000030.png"))
    assert ((drawn == classes.index("potted plant")) & (truth != drawn)).any()  # not clipped: as the human drew


@pytest.mark.parametrize(
    ("shape", "said"),
    [
        ({"label": "unicorn", "points": [[1, 1], [9, 9]], "shape_type": "linestrip"}, "label 'unicorn' names no class"),
        (
            {"label": "dog", "points": [[1, 1], [9, 9], [1, 9]], "shape_type": "polygon"},
            "a 'polygon' shape is no scribble",
        ),
    ],
)
def test_what_is_no_scribble_is_one_line(build: Path, tmp_path: Path, shape: dict, said: str) -> None:
    human_file(build, tmp_path / "files", [shape])
    result = invoke("import", "labelme", tmp_path / "files", "--out", build, "--seed", "8")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and said in lines[0], result.output
    if "unicorn" in said:
        result = invoke("import", "labelme", tmp_path / "files", "--out", build, "--seed", "8", "--skip-unknown")
        assert result.exit_code == 0 and "1 images, 0 strokes" in result.output, result.output


def test_files_that_cannot_be_read_are_one_line(build: Path, tmp_path: Path) -> None:
    path = human_file(build, tmp_path / "files", [{"label": "dog", "points": [[1, 1]], "shape_type": "point"}])
    no_build = invoke("import", "labelme", tmp_path / "files", "--out", tmp_path / "nothing", "--seed", "8")
    assert no_build.exit_code == 2 and "no meta.json; import into a build" in no_build.output
    next(p for p in (tmp_path / "files").iterdir() if p.suffix != ".json").unlink()  # the image is gone
    result = invoke("import", "labelme", tmp_path / "files", "--out", build, "--seed", "8")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith(f"error: {path}"), result.output


def test_good_files_are_imported_and_each_bad_one_named(build: Path, tmp_path: Path) -> None:
    good = human_file(
        build, tmp_path / "files", [{"label": "dog", "points": [[1, 1], [9, 9]], "shape_type": "linestrip"}]
    )
    one_point = [{"label": "dog", "points": [[1, 1]], "shape_type": "linestrip"}]
    bad = human_file(build, tmp_path / "files", one_point, name="000000000071")
    resized = human_file(build, tmp_path / "files", [], name="000000000072")
    data = json.loads(resized.read_text())
    data["imageWidth"] = 99  # the file says another size than its image's
    resized.write_text(json.dumps(data))
    result = invoke("import", "labelme", tmp_path / "files", "--out", build, "--seed", "5", "--overwrite")
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 3, result.output
    assert lines[0] == f"warning: {bad}: a linestrip of one point (label 'dog')"
    assert lines[1].startswith(f"warning: {resized}: ") and "imageWidth mismatch" in lines[1]
    assert lines[2].endswith("1 images, 1 strokes; 2 refused (above)")
    assert [p.stem for p in (build / "coco2017_train_scribble_r5").glob("*.png")] == [good.stem]

"""ScribbleSup XML and label-PNG import into the scribble-set layout."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

from scribblesim.analysis.metrics import object_stats
from scribblesim.cli.main import main
from scribblesim.datasets.voc import CLASS_NAMES as VOC_CLASS_NAMES
from scribblesim.engine.vectorise import skeleton_chains, vectorise
from scribblesim.errors import DatasetError
from scribblesim.sets.files import label_png_bytes
from scribblesim.sets.importers import draw_polylines, parse_scribblesup_xml
from scribblesim.sets.scribble_set import open_set

U = 255

XML = """<?xml version="1.0"?>
<annotation>
  <folder>VOC2012</folder>
  <filename>2007_000032.jpg</filename>
  <size><width>12</width><height>8</height><depth>3</depth></size>
  <segmented>1</segmented>
  <polygon>
    <tag>background</tag>
    <point><X>1</X><Y>6</Y></point>
    <point><X>10</X><Y>6</Y></point>
  </polygon>
  <polygon>
    <tag>aeroplane</tag>
    <point><X>2</X><Y>2</Y></point>
    <point><X>4</X><Y>2</Y></point>
    <point><X>6</X><Y>2</Y></point>
  </polygon>
  <polygon>
    <tag>person</tag>
    <point><X>6</X><Y>1</Y></point>
    <point><X>6</X><Y>4</Y></point>
  </polygon>
</annotation>
"""


def expected_map() -> np.ndarray:
    """XML above drawn 3 px wide in file order (later polylines win), by hand."""
    label_map = np.full((8, 12), U, np.uint8)
    label_map[5:8, 0:12] = 0  # background: row 6 +- 1, columns 1..10 +- 1
    label_map[1:4, 1:8] = 1  # aeroplane: row 2 +- 1, columns 2..6 +- 1
    label_map[0:6, 5:8] = 15  # person: rows 1..4 +- 1, column 6 +- 1
    return label_map


def write_xml(folder: Path, text: str = XML, name: str = "2007_000032.xml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_parse_scribblesup_xml(tmp_path: Path) -> None:
    parsed = parse_scribblesup_xml(write_xml(tmp_path))
    assert (parsed.name, parsed.height, parsed.width) == ("2007_000032", 8, 12)
    assert [label for label, _ in parsed.polylines] == [0, 1, 15]
    np.testing.assert_array_equal(parsed.polylines[1][1], [[2, 2], [4, 2], [6, 2]])


def test_draw_polylines_three_pixels_wide(tmp_path: Path) -> None:
    parsed = parse_scribblesup_xml(write_xml(tmp_path))
    label_map, strokes = draw_polylines(parsed.polylines, (8, 12))
    np.testing.assert_array_equal(label_map, expected_map())
    assert [(s.label, s.style, s.instance) for s in strokes] == [
        (0, "human", None),
        (1, "human", None),
        (15, "human", None),
    ]


def test_points_outside_the_image_are_clipped() -> None:
    label_map, strokes = draw_polylines([(3, np.array([[10.0, 1.0], [20.0, 1.0]]))], (4, 12))
    assert np.argwhere(label_map == 3)[:, 1].max() == 11 and len(strokes) == 1
    _, none = draw_polylines([(3, np.array([[30.0, 1.0], [40.0, 1.0]]))], (4, 12))
    assert none == []


def test_tag_aliases_and_unknown_tags(tmp_path: Path) -> None:
    aliased = XML.replace("aeroplane", "Plane").replace("person", "potted plant")
    parsed = parse_scribblesup_xml(write_xml(tmp_path / "a", aliased))
    assert [label for label, _ in parsed.polylines] == [0, 1, 16]
    unknown = write_xml(tmp_path / "b", XML.replace("person", "sky"))
    with pytest.raises(DatasetError, match="unknown tag 'sky'"):
        parse_scribblesup_xml(unknown)
    assert [label for label, _ in parse_scribblesup_xml(unknown, skip_unknown=True).polylines] == [0, 1]


def test_import_scribblesup_cli(tmp_path: Path) -> None:
    out = tmp_path / "human"
    result = run("import", "scribblesup", write_xml(tmp_path / "xml").parent, "--out", out)
    assert result.exit_code == 0, result.output
    human = open_set(out, 0)
    assert human.folder == out / "scribblesup_scribble_r0"
    with Image.open(human.folder / "2007_000032.png") as image:
        assert image.mode == "L"
    np.testing.assert_array_equal(human.label_map("2007_000032"), expected_map())
    record = human.records()["2007_000032"]
    assert [s["label"] for s in record["strokes"]] == [0, 1, 15]
    assert record["strokes"][2]["points"] == [[6.0, 1.0], [6.0, 4.0]] and record["source"] == "scribblesup"
    meta = json.loads((out / "meta.json").read_text())
    assert meta["prefix"] == "scribblesup" and meta["classes"][15] == "person" and len(meta["classes"]) == 21
    # The same set again is refused, unless --overwrite; another seed is a second annotator.
    again = run("import", "scribblesup", tmp_path / "xml", "--out", out)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert run("import", "scribblesup", tmp_path / "xml", "--out", out, "--overwrite").exit_code == 0
    assert run("import", "scribblesup", tmp_path / "xml", "--out", out, "--seed", 1).exit_code == 0
    assert (out / "scribblesup_scribble_r1" / "2007_000032.png").is_file()


def test_imported_scribbles_are_measured_like_simulated_ones(tmp_path: Path) -> None:
    run("import", "scribblesup", write_xml(tmp_path / "xml").parent, "--out", tmp_path / "h")
    scribbles = open_set(tmp_path / "h", 0).label_map("2007_000032")
    person = np.zeros((8, 12), bool)
    person[0:8, 4:9] = True  # 8 x 5 = 40 pixels
    (s,) = object_stats([person], [15], scribbles)
    # person: rows 0..5 x columns 5..7 = 18; foreign: aeroplane rows 1..3 at column 4 (3)
    # + background row 5 at columns 4 and 8 (2) + rows 6..7 x columns 4..8 (10) = 15.
    assert (s.area, s.scribble_pixels, s.foreign_pixels) == (40, 18, 15)


def test_import_into_a_build_folder_uses_its_prefix(tmp_path: Path) -> None:
    out = tmp_path / "build"
    out.mkdir()
    (out / "meta.json").write_text(json.dumps({"prefix": "voc_train", "classes": list(VOC_CLASS_NAMES)}))
    before = (out / "meta.json").read_bytes()
    assert run("import", "scribblesup", write_xml(tmp_path / "xml").parent, "--out", out).exit_code == 0
    assert (out / "voc_train_scribble_r0" / "2007_000032.png").is_file()
    assert (out / "meta.json").read_bytes() == before
    clash = run("import", "scribblesup", tmp_path / "xml", "--out", out, "--prefix", "other", "--seed", 3)
    assert clash.exit_code == 2 and "prefix is 'voc_train'" in clash.output


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("<annotation><size><width>4", "unparsable XML"),
        (XML.replace("<size><width>12</width><height>8</height><depth>3</depth></size>", ""), "missing <size>"),
        (XML.replace("<X>4</X>", "<X>four</X>"), "<X> is not a number"),
        (XML.replace("person", "sky"), "unknown tag 'sky'"),
    ],
)
def test_import_scribblesup_bad_xml(tmp_path: Path, text: str, needle: str) -> None:
    path = write_xml(tmp_path / "xml", text)
    result = run("import", "scribblesup", tmp_path / "xml", "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {path}: ") and needle in result.output
    assert result.output.count("\n") == 1
    assert not (tmp_path / "out").exists()  # nothing written


def test_import_missing_folder(tmp_path: Path) -> None:
    result = run("import", "scribblesup", tmp_path / "none", "--out", tmp_path / "out")
    assert result.exit_code == 2 and result.output == f"error: {tmp_path / 'none'}: XML folder not found\n"


# --- label PNGs ------------------------------------------------------------------------


def test_skeleton_chains_of_a_t_junction_and_a_loop() -> None:
    tee = np.zeros((5, 5), bool)
    tee[2, :] = True
    tee[3:5, 2] = True
    chains = sorted(c.tolist() for c in skeleton_chains(tee))
    assert chains == [
        [[0, 2], [1, 2], [2, 2]],
        [[2, 2], [2, 3], [2, 4]],
        [[2, 2], [3, 2], [4, 2]],
    ]
    ring = np.ones((3, 3), bool)
    ring[1, 1] = False
    (loop,) = skeleton_chains(ring)
    assert len(loop) == 9 and loop[0].tolist() == loop[-1].tolist()


def test_vectorise_recovers_strokes() -> None:
    label_map = np.full((6, 10), U, np.uint8)
    label_map[1, 1:6] = 2
    label_map[4, 8] = 0
    strokes = vectorise(label_map)
    assert [(s.label, s.points.tolist()) for s in strokes] == [
        (0, [[8.0, 4.0]]),
        (2, [[1.0, 1.0], [2.0, 1.0], [3.0, 1.0], [4.0, 1.0], [5.0, 1.0]]),
    ]


def two_stroke_map() -> np.ndarray:
    """A 6 x 10 scribble map: one class-2 stroke and a background band."""
    label_map = np.full((6, 10), U, np.uint8)
    label_map[1, 1:6] = 2
    label_map[3:5, 0:10] = 0
    return label_map


def test_import_png_cli(tmp_path: Path) -> None:
    source = tmp_path / "pngs"
    source.mkdir()
    label_map = two_stroke_map()
    (source / "a.png").write_bytes(label_png_bytes(label_map))
    Image.fromarray(label_map, mode="L").save(source / "b.png")
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(["background", "cat", "dog"]))
    out = tmp_path / "out"
    result = run("import", "png", source, "--out", out, "--seed", 5, "--classes", classes)
    assert result.exit_code == 0, result.output
    imported = open_set(out, 5)
    assert imported.folder == out / "imported_scribble_r5" and imported.names() == ["a", "b"]
    np.testing.assert_array_equal(imported.label_map("b"), label_map)
    assert json.loads((out / "meta.json").read_text())["classes"] == ["background", "cat", "dog"]
    labels = sorted(s["label"] for s in imported.records()["a"]["strokes"])
    assert labels[-1] == 2 and set(labels) == {0, 2}


def test_import_png_three_equal_channels(tmp_path: Path) -> None:
    """The reference simulator wrote its scribbles with cv2.imwrite: 3 equal channels."""
    import cv2

    source = tmp_path / "pngs"
    source.mkdir()
    label_map = two_stroke_map()
    assert cv2.imwrite(str(source / "ref.png"), np.repeat(label_map[:, :, None], 3, axis=2))
    with Image.open(source / "ref.png") as image:
        assert image.mode == "RGB"
    out = tmp_path / "out"
    result = run("import", "png", source, "--out", out, "--seed", 1)
    assert result.exit_code == 0, result.output
    imported = open_set(out, 1)
    np.testing.assert_array_equal(imported.label_map("ref"), label_map)
    assert sorted({s["label"] for s in imported.records()["ref"]["strokes"]}) == [0, 2]
    with Image.open(imported.folder / "ref.png") as image:
        assert image.mode == "L"
    # preview and stats read it too (through the same label-map reader)
    assert run("preview", out, "--seed", 1, "--out", tmp_path / "preview").exit_code == 0


def test_import_png_rejects_colour_images(tmp_path: Path) -> None:
    source = tmp_path / "pngs"
    source.mkdir()
    colour = np.zeros((4, 4, 3), np.uint8)
    colour[1, 2] = (0, 0, 128)
    Image.fromarray(colour).save(source / "c.png")
    result = run("import", "png", source, "--out", tmp_path / "out")
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: {source / 'c.png'}: 3-channel PNG whose channels differ")
    assert not (tmp_path / "out").exists()
    Image.new("RGBA", (4, 4)).save(source / "c.png")
    result = run("import", "png", source, "--out", tmp_path / "out")
    assert result.exit_code == 2 and "got mode RGBA" in result.output


def test_import_label_png_mode(tmp_path: Path) -> None:
    source = tmp_path / "pngs"
    source.mkdir()
    label_map = np.full((6, 10), U, np.uint8)
    label_map[1, 1:6] = 1
    (source / "a.png").write_bytes(label_png_bytes(label_map, "palette"))
    out = tmp_path / "out"
    assert run("import", "png", source, "--out", out, "--label-png", "palette").exit_code == 0
    with Image.open(out / "imported_scribble_r0" / "a.png") as image:
        assert image.mode == "P"
    assert json.loads((out / "meta.json").read_text())["label_png"] == "palette"
    assert run("import", "png", source, "--out", out, "--seed", 1).exit_code == 0  # follows OUT's mode
    with Image.open(out / "imported_scribble_r1" / "a.png") as image:
        assert image.mode == "P"
    result = run("import", "png", source, "--out", out, "--seed", 2, "--label-png", "gray")
    assert (
        result.exit_code == 2 and len(result.output.splitlines()) == 1 and "--label-png gray would mix" in result.output
    )


def test_xml_coordinates_far_outside_are_clipped_to_the_image(tmp_path: Path) -> None:
    """Points at +-1e9 once meant 15 GB of samples; the polyline is clipped to the image first."""
    text = XML.replace("<X>1</X><Y>6</Y>", "<X>-1000000000</X><Y>6</Y>").replace(
        "<X>10</X><Y>6</Y>", "<X>1000000000</X><Y>6</Y>"
    )
    label_map, strokes = draw_polylines(parse_scribblesup_xml(write_xml(tmp_path, text)).polylines, (8, 12))
    assert (label_map[5:8, :] != U).all() and (label_map[5:8] == 0).sum() == 3 * 12 - 3  # person covers 3
    assert len(strokes) == 3


def test_xml_of_an_absurd_size_is_refused(tmp_path: Path) -> None:
    text = XML.replace("<width>12</width><height>8</height>", "<width>100000</width><height>100000</height>")
    with pytest.raises(DatasetError, match="exceeds"):
        parse_scribblesup_xml(write_xml(tmp_path, text))


def test_scribblesup_tags_map_to_a_coco_build_by_name(tmp_path: Path) -> None:
    out = tmp_path / "coco"
    assert run("build", "coco", "--out", out, "--seeds", "1", "--jobs", "1", "--no-progress").exit_code == 0
    coco_classes = json.loads((out / "meta.json").read_text())["classes"]
    text = XML.replace("<tag>aeroplane</tag>", "<tag>pottedplant</tag>").replace("<tag>person</tag>", "<tag>sofa</tag>")
    result = run("import", "scribblesup", write_xml(tmp_path / "xml", text).parent, "--out", out, "--seed", 9)
    assert result.exit_code == 0, result.output
    label_map = open_set(out, 9).label_map("2007_000032")
    assert {coco_classes[k] for k in np.unique(label_map) if k not in (0, U)} == {"potted plant", "couch"}
    # a tag that names no COCO class is refused in one line, or dropped with --skip-unknown
    unknown = XML.replace("<tag>person</tag>", "<tag>unicorn</tag>")
    refused = run("import", "scribblesup", write_xml(tmp_path / "bad", unknown).parent, "--out", out, "--seed", 8)
    assert refused.exit_code == 2 and "unicorn" in refused.output and "Traceback" not in refused.output


def test_import_png_refuses_labels_beyond_the_classes(tmp_path: Path) -> None:
    source = tmp_path / "pngs"
    source.mkdir()
    label_map = two_stroke_map()
    label_map[0, 0] = 100
    Image.fromarray(label_map, mode="L").save(source / "a.png")
    classes = tmp_path / "classes.json"
    classes.write_text(json.dumps(["background", "cat", "dog"]))
    result = run("import", "png", source, "--out", tmp_path / "out", "--classes", classes)
    assert result.exit_code == 2 and "label 100 is not a class" in result.output

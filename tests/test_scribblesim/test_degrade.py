"""Scribble-shrink and scribble-drop: exact identity at 0, hand-computed shrinks, seeded drops."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dataset_fixtures import build_tiny
from PIL import Image

from scribblesim.cli.main import main
from scribblesim.errors import DatasetError
from scribblesim.sets.degrade import (
    assign_pixels,
    degrade_map,
    degrade_record,
    degrade_set,
    degraded_tag,
    drop_decisions,
    shrink_points,
)
from scribblesim.sets.scribble_set import open_set

U = 255


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("degrade") / "out", seeds=(1,))


def horizontal_stroke() -> tuple[np.ndarray, list[dict]]:
    """A 1-px stroke from x = 0 to x = 20 on row 5."""
    label_map = np.full((11, 30), U, np.uint8)
    label_map[5, 0:21] = 4
    return label_map, [{"points": [[0.0, 5.0], [20.0, 5.0]], "label": 4, "instance": 0, "style": "line"}]


def test_shrink_hand_computed() -> None:
    label_map, strokes = horizontal_stroke()
    # r = 0.5: arc [5, 15] of L = 20, plus half a pixel: columns 5..15.
    half = degrade_map(label_map, strokes, shrink=0.5)
    assert np.flatnonzero(half[5] != U).tolist() == list(range(5, 16))
    assert (half[np.arange(11) != 5] == U).all()
    np.testing.assert_allclose(shrink_points(np.array(strokes[0]["points"]), 0.5), [[5, 5], [15, 5]])
    # r = 1 leaves the midpoint.
    point = degrade_map(label_map, strokes, shrink=1.0)
    assert np.argwhere(point != U).tolist() == [[5, 10]]
    np.testing.assert_allclose(shrink_points(np.array(strokes[0]["points"]), 1.0), [[10, 5]])


def test_pixels_belong_to_the_nearest_stroke_of_their_label() -> None:
    label_map = np.full((9, 9), U, np.uint8)
    label_map[1, 0:9] = 2
    label_map[7, 0:9] = 2
    label_map[4, 4] = 3
    points = [np.array([[0, 1], [8, 1]], float), np.array([[0, 7], [8, 7]], float)]
    owners = assign_pixels(label_map, points, [2, 2])
    by_pixel = {(r, c): (o, t) for r, c, o, t in zip(owners.rows, owners.cols, owners.owner, owners.position)}
    assert by_pixel[(1, 3)] == (0, 3.0) and by_pixel[(7, 6)] == (1, 6.0)
    assert by_pixel[(4, 4)][0] == -1  # no stroke carries label 3: kept as is
    assert (degrade_map(label_map, [{"points": p, "label": 2} for p in points], shrink=1.0)[4, 4]) == 3


def test_drop_fraction_is_binomial_and_seeded() -> None:
    strokes = [{"points": [[k, 0]], "label": 1, "instance": k, "style": "line"} for k in range(1000)]
    strokes.append({"points": [[0, 1]], "label": 0, "instance": None, "style": "background"})
    dropped = drop_decisions(strokes, "img", 0.3, rng_seed=5)
    assert dropped[-1] is False  # background is never dropped
    # Binomial(1000, 0.3): mean 300, sd 14.5; allow 4 sd.
    assert abs(sum(dropped) - 300) <= 4 * math.sqrt(1000 * 0.3 * 0.7)
    assert dropped == drop_decisions(strokes, "img", 0.3, rng_seed=5)
    assert dropped != drop_decisions(strokes, "img", 0.3, rng_seed=6)
    assert dropped != drop_decisions(strokes, "other", 0.3, rng_seed=5)
    assert not any(drop_decisions(strokes, "img", 0.0, rng_seed=5))
    assert sum(drop_decisions(strokes, "img", 1.0, rng_seed=5)) == 1000


def test_drop_groups_strokes_by_object() -> None:
    strokes = [
        {"points": [[0, 0]], "label": 1, "instance": 3, "style": "line"},
        {"points": [[5, 5]], "label": 1, "instance": 3, "style": "line"},
        {"points": [[9, 9]], "label": 2, "instance": None, "style": "human"},
    ]
    for seed in range(20):
        dropped = drop_decisions(strokes, "img", 0.5, rng_seed=seed)
        assert dropped[0] == dropped[1]


def test_zero_is_exact_identity(tiny: Path) -> None:
    source = open_set(tiny, 1)
    copy = degrade_set(source, shrink=0.0, drop=0.0, rng_seed=3)
    assert copy.tag == "1_shrink0_drop0_rs3"
    records, copied = source.records(), copy.records()
    for name in source.names():
        np.testing.assert_array_equal(copy.label_map(name), source.label_map(name))
        assert copied[name]["strokes"] == records[name]["strokes"]
        assert copied[name]["skipped"] == records[name]["skipped"]


def test_shrink_one_leaves_a_few_pixels_per_stroke(tiny: Path) -> None:
    source = open_set(tiny, 1)
    records = source.records()
    for name in source.names():
        before = source.label_map(name)
        after, record = degrade_record(name, before, records[name], shrink=1.0)
        assert set(np.unique(after)) <= set(np.unique(before))
        assert ((after == before) | (after == U)).all()  # only removes pixels
        strokes = records[name]["strokes"]
        owners = assign_pixels(after, [np.array(s["points"]) for s in strokes], [s["label"] for s in strokes])
        per_stroke = np.bincount(owners.owner, minlength=len(strokes))
        assert per_stroke.max() <= 6  # a 2-px brush, one or two pixels along
        assert all(len(s["points"]) == 1 for s in record["strokes"])


def test_drop_one_keeps_only_background(tiny: Path) -> None:
    source = open_set(tiny, 1)
    records = source.records()
    for name in source.names():
        after, record = degrade_record(name, source.label_map(name), records[name], drop=1.0)
        assert set(np.unique(after)) <= {0, U}
        assert [s["style"] for s in record["strokes"]] == ["background"]
        dropped = [s for s in record["skipped"] if s["reason"].startswith("dropped")]
        assert len(dropped) == len(records[name]["strokes"]) - 1


def test_without_records_strokes_come_from_pixels() -> None:
    label_map, _ = horizontal_stroke()
    after, record = degrade_record("x", label_map, None, shrink=0.5)
    assert np.flatnonzero(after[5] != U).tolist() == list(range(5, 16))
    assert record["strokes"][0]["points"] == [[float(x), 5.0] for x in range(5, 16)]  # one vertex per pixel


def test_degraded_tag() -> None:
    assert degraded_tag("1", 0.5, None) == "1_shrink0.5"
    assert degraded_tag("1", None, 0.3) == "1_drop0.3"
    assert degraded_tag("2", 0.25, 0.3, rng_seed=7) == "2_shrink0.25_drop0.3_rs7"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_degrade_follows_the_outputs_label_png_mode(tiny: Path, tmp_path: Path) -> None:
    result = run("degrade", tiny, "--seed", 1, "--shrink", 0.5, "--label-png", "palette")
    assert result.exit_code == 2 and len(result.output.splitlines()) == 1
    assert "holds gray label PNGs; --label-png palette would mix" in result.output
    palette = build_tiny(tmp_path / "palette", seeds=(1,), label_png="palette")
    assert run("degrade", palette, "--seed", 1, "--drop", 0.5).exit_code == 0
    for png in (palette / "tiny_scribble_r1_drop0.5").glob("*.png"):
        with Image.open(png) as image:
            assert image.mode == "P"


def test_degrade_cli_writes_a_usable_set_deterministically(tiny: Path) -> None:
    result = run("degrade", tiny, "--seed", 1, "--shrink", 0.5, "--drop", 0.3, "--rng-seed", 2)
    assert result.exit_code == 0, result.output
    folder = tiny / "tiny_scribble_r1_shrink0.5_drop0.3_rs2"
    pngs = sorted(folder.glob("*.png"))
    assert len(pngs) == 3
    with Image.open(pngs[0]) as image:
        assert image.mode == "L"
    jsonl = tiny / "strokes_r1_shrink0.5_drop0.3_rs2.jsonl"
    first = {p.name: p.read_bytes() for p in pngs} | {"jsonl": jsonl.read_bytes()}
    record = json.loads(jsonl.read_text().splitlines()[0])
    assert record["degrade"] == {"source": "1", "shrink": 0.5, "drop": 0.3, "rng_seed": 2}
    assert run("degrade", tiny, "--seed", 1, "--shrink", 0.5, "--drop", 0.3, "--rng-seed", 2).exit_code == 0
    assert {p.name: p.read_bytes() for p in pngs} | {"jsonl": jsonl.read_bytes()} == first
    # A degraded set is a set like any other: it can be degraded again.
    again = run("degrade", tiny, "--seed", "1_shrink0.5_drop0.3_rs2", "--shrink", 0)
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--seed", "1", "--shrink", "1.5"), "error: --shrink: must lie in [0, 1], got 1.5"),
        (("--seed", "1", "--drop", "-0.1"), "error: --drop: must lie in [0, 1]"),
        (("--seed", "1"), "error: give --shrink, --drop or both"),
        (("--seed", "4", "--drop", "0.2"), "tiny_scribble_r4: scribble folder not found"),
    ],
)
def test_degrade_cli_user_errors(tiny: Path, args, needle) -> None:
    result = run("degrade", tiny, *args)
    assert result.exit_code == 2 and needle in result.output
    assert result.output.count("\n") == 1


def test_degrade_cli_missing_out(tmp_path: Path) -> None:
    result = run("degrade", tmp_path / "nope", "--seed", 1, "--drop", 0.5)
    assert result.exit_code == 2
    assert result.output == f"error: {tmp_path / 'nope'}: output folder not found\n"


def test_a_degrade_that_fails_midway_leaves_no_set(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import scribblesim.sets.degrade as degrade_module

    calls = {"n": 0}
    real = degrade_module.degrade_map

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(degrade_module, "degrade_map", failing)
    with pytest.raises(OSError):
        degrade_set(open_set(tiny, 1), shrink=0.25)
    assert not (tiny / "tiny_scribble_r1_shrink0.25").exists()
    assert run("stats", tiny, "--seed", "1_shrink0.25", "--out", tiny.parent / "stats").exit_code == 2


def test_a_set_whose_strokes_file_never_landed_is_refused(tiny: Path) -> None:
    assert run("degrade", tiny, "--seed", 1, "--drop", 0.1).exit_code == 0
    (tiny / "strokes_r1_drop0.1.jsonl").unlink()  # as if killed between the two renames
    with pytest.raises(DatasetError, match="incomplete scribble set"):
        open_set(tiny, "1_drop0.1")
    result = run("stats", tiny, "--seed", "1_drop0.1", "--out", tiny.parent / "stats")
    assert result.exit_code == 2 and "incomplete scribble set" in result.output

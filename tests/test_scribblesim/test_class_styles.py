"""Styles per class: each class's objects drawn with its own fields, carried by style files, builds and meta.json."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import scribblesim
from scribblesim import SimConfig
from scribblesim.cli.main import main
from scribblesim.engine.simulate import semantic_map
from scribblesim.errors import ConfigError

ACDC_NAMES = ["background", "RV", "MYO", "LV"]


def rings() -> tuple[np.ndarray, list[int]]:
    """An ACDC-like slice: a cavity (LV, 3) inside a ring (MYO, 2), and a crescent beside it (RV, 1)."""
    rows, cols = np.mgrid[:160, :200]
    radius = np.hypot(rows - 80, cols - 110)
    lv, myo = radius < 25, (radius >= 25) & (radius < 38)
    rv = (np.hypot(rows - 80, cols - 60) < 30) & (radius >= 38)
    return np.stack([rv, myo, lv]), [1, 2, 3]


def test_each_class_is_drawn_with_its_own_fields() -> None:
    masks, classes = rings()
    config = SimConfig(boundary_probability=1.0, per_class={2: {"boundary_probability": 0.0, "width": 1}})
    for seed in range(1, 6):
        result = scribblesim.simulate(masks, classes, seed=seed, config=config)
        styles = {s.label: s.style for s in result.strokes if s.style != "background"}
        assert styles == {1: "boundary", 2: "line", 3: "boundary"}
        # class 2 alone is drawn 1 px wide: no 2 x 2 block of its pixels
        mine = result.label_map == 2
        assert not (mine[:-1, :-1] & mine[1:, :-1] & mine[:-1, 1:] & mine[1:, 1:]).any()
    # a per-class entry that repeats the defaults draws what the config without it draws
    same = SimConfig(per_class={2: {"width": 2}})
    assert np.array_equal(
        scribblesim.simulate(masks, classes, config=same).label_map, scribblesim.simulate(masks, classes).label_map
    )


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(1, 1000),
    boundary=st.lists(st.sampled_from([0.0, 1.0]), min_size=3, max_size=3),
    width=st.lists(st.integers(1, 5), min_size=3, max_size=3),
    inset=st.lists(st.sampled_from([0.0, 0.3, 0.6]), min_size=3, max_size=3),
    connectivity=st.lists(st.sampled_from([4, 8]), min_size=3, max_size=3),
    path=st.lists(st.sampled_from(["root-to-leaf", "leaf-to-leaf", "chord"]), min_size=3, max_size=3),
)
def test_class_styles_keep_every_pixel_on_its_objects_class(seed, boundary, width, inset, connectivity, path) -> None:
    masks, classes = rings()
    per_class = {
        k + 1: {
            "boundary_probability": boundary[k],
            "width": width[k],
            "inset": inset[k],
            "line_connectivity": connectivity[k],
            "stroke_path": path[k],
        }
        for k in range(3)
    }
    result = scribblesim.simulate(masks, classes, seed=seed, config=SimConfig(per_class=per_class))
    truth = semantic_map(masks, classes)
    labelled = result.label_map != 255
    assert np.array_equal(result.label_map[labelled], truth[labelled])
    assert {s.instance for s in result.strokes if s.instance is not None} == {0, 1, 2}  # every object a stroke


def test_per_class_styles_round_trip_through_a_style_file(tmp_path: Path) -> None:
    config = SimConfig(
        boundary_probability=1.0,
        boundary_inset=0.5,
        background_placement="around",
        per_class={2: {"boundary_probability": 0.0, "width": 1}, 3: {"strokes_per_object": 2}},
    )
    written = tmp_path / "style.json"
    written.write_text(json.dumps({"format": "scribblesim-style-1", "config": config.to_dict()}))
    assert SimConfig.from_file(written) == config
    # sections: a default, the background, and classes by name or id
    sectioned = tmp_path / "sectioned.json"
    sectioned.write_text(
        json.dumps(
            {
                "config": {"boundary_probability": 1.0, "boundary_inset": 0.5},
                "background": {"background_placement": "around"},
                "classes": {"MYO": {"boundary_probability": 0.0, "width": 1}, "3": {"strokes_per_object": 2}},
            }
        )
    )
    assert SimConfig.from_file(sectioned, class_names=ACDC_NAMES) == config


def test_an_old_style_file_still_loads(tmp_path: Path) -> None:
    old = tmp_path / "old.json"  # what scribblesim fit wrote before styles per class
    old.write_text(json.dumps({"format": "scribblesim-style-1", "config": {"width": 1, "boundary_inset": 0.5}}))
    assert SimConfig.from_file(old) == SimConfig(width=1, boundary_inset=0.5)


@pytest.mark.parametrize(
    ("classes", "message"),
    [
        ({"PA": {"width": 1}}, "unknown class 'PA' (classes: background, RV, MYO, LV)"),
        ({"MYO": {"background_margin": 1}}, "fields background_margin are not a class's own"),
        ({"0": {"width": 1}}, "class ids are integers from 1"),
        ({"LV": {"width": 0}}, "width must be >= 1"),
    ],
)
def test_bad_class_styles_are_one_line(tmp_path: Path, classes: dict, message: str) -> None:
    style = tmp_path / "style.json"
    style.write_text(json.dumps({"config": {}, "classes": classes}))
    with pytest.raises(ConfigError) as error:
        SimConfig.from_file(style, class_names=ACDC_NAMES)
    assert str(error.value).startswith(f"{style}: ") and message in str(error.value) and "\n" not in str(error.value)


def test_a_build_carries_class_styles_into_meta_and_refuses_unknown_names(tmp_path: Path) -> None:
    style = tmp_path / "style.json"
    style.write_text(json.dumps({"config": {}, "classes": {"person": {"boundary_probability": 0.0}}}))
    args = ["build", "coco", "--style", str(style), "--jobs", "1", "--no-progress"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "out/meta.json").read_text())
    assert meta["config"]["per_class"] == {"1": {"boundary_probability": 0.0}}  # person is COCO's class 1
    strokes = [json.loads(line) for line in (tmp_path / "out/strokes_r1.jsonl").read_text().splitlines()]
    styles = {(s["label"], s["style"]) for record in strokes for s in record["strokes"]}
    assert (1, "boundary") not in styles and (1, "line") in styles
    style.write_text(json.dumps({"config": {}, "classes": {"persn": {"width": 1}}}))
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "bad")])
    assert result.exit_code == 2 and result.output.count("\n") == 1 and "unknown class 'persn'" in result.output

"""Style decision of Eq. 20 (line vs boundary) and the background split."""

import math

import numpy as np
import pytest

import scribblesim
from scribblesim import BACKGROUND, SimConfig
from scribblesim.engine.raster import stroke_pixels

SEEDS = range(300)
# The style decision does not depend on the background; leaving it out halves the run time.
NO_BACKGROUND = SimConfig(background=False)


def _object_styles(masks, classes, seeds, config=NO_BACKGROUND):
    styles = []
    for seed in seeds:
        smap = scribblesim.simulate(masks, classes, seed=seed, image_id=0, config=config)
        styles += [s.style for s in smap.strokes if s.instance is not None]
    return styles


def _square(size, top, left, side):
    mask = np.zeros((size, size), dtype=bool)
    mask[top : top + side, left : left + side] = True
    return mask


@pytest.mark.parametrize(
    "mask",
    [
        _square(200, 90, 90, 20),  # P = 0.01
        _square(200, 10, 20, 63),  # P = 0.099
        np.pad(np.ones((3, 150), dtype=bool), ((100, 97), (20, 30))),  # thin, P = 0.011
    ],
    ids=["tiny", "just-below-0.1", "thin-bar"],
)
def test_objects_below_ratio_0_1_are_always_line(mask):
    assert mask.sum() / mask.size < 0.1
    styles = _object_styles([mask], [7], range(80))
    assert styles == ["line"] * 80


def test_large_single_component_gets_boundary_with_probability_p():
    mask = _square(200, 50, 50, 100)
    p = mask.sum() / mask.size
    assert p == 0.25
    styles = _object_styles([mask], [3], SEEDS)
    assert set(styles) == {"line", "boundary"}
    assert len(styles) == len(SEEDS)
    boundary = styles.count("boundary")
    mean, sigma = len(SEEDS) * p, math.sqrt(len(SEEDS) * p * (1 - p))
    print(f"boundary strokes: {boundary}/{len(SEEDS)} (expected {mean:.0f} +- {sigma:.1f})")
    assert abs(boundary - mean) <= 4 * sigma


def test_whole_image_object_is_always_boundary():
    mask = np.ones((64, 64), dtype=bool)  # P = 1: rng.random() < 1 always
    assert _object_styles([mask], [9], range(40)) == ["boundary"] * 40


def test_boundary_strokes_are_closed_and_stay_on_the_object():
    mask = _square(200, 50, 50, 100)
    found = 0
    for seed in range(60):
        smap = scribblesim.simulate([mask], [3], seed=seed)
        for stroke in smap.strokes:
            if stroke.style == "boundary":
                found += 1
                np.testing.assert_allclose(stroke.points[0], stroke.points[-1])
        assert set(np.unique(smap.label_map[mask]).tolist()) <= {3, 255}
        assert (smap.label_map[~mask] != 3).all()
    assert found > 0


def test_large_object_in_two_components_is_always_line():
    mask = np.zeros((200, 200), dtype=bool)
    mask[20:180, 10:90] = True
    mask[20:180, 110:190] = True
    assert mask.sum() / mask.size > 0.5
    styles = _object_styles([mask], [5], range(200))
    assert styles == ["line"] * 200


def test_diagonal_touching_parts_count_as_one_component():
    # 8-connected through a single corner: one component, so boundary is possible.
    mask = np.zeros((100, 100), dtype=bool)
    mask[0:50, 0:50] = True
    mask[50:100, 50:100] = True
    styles = _object_styles([mask], [5], range(60))
    assert "boundary" in styles


def test_boundary_min_ratio_is_respected():
    mask = _square(200, 50, 50, 100)  # P = 0.25
    config = SimConfig(boundary_min_ratio=0.3, background=False)
    assert _object_styles([mask], [3], range(60), config) == ["line"] * 60


def test_one_background_stroke_by_default():
    mask = _square(200, 80, 80, 40)
    for seed in range(5):
        smap = scribblesim.simulate([mask], [4], seed=seed)
        background = [s for s in smap.strokes if s.instance is None]
        assert [s.style for s in background] == ["background"]
        assert background[0].label == BACKGROUND
        assert (smap.label_map == BACKGROUND).any()
        assert not (mask & (smap.label_map == BACKGROUND)).any()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_horizontal_split_gives_one_background_stroke_per_half(seed):
    height, width = 200, 160
    mask = np.zeros((height, width), dtype=bool)
    mask[70:130, 50:110] = True
    config = SimConfig(background_split="horizontal")
    smap = scribblesim.simulate([mask], [4], seed=seed, config=config)
    background = [s for s in smap.strokes if s.instance is None]
    assert len(background) == 2
    assert all(s.style == "background" and s.label == BACKGROUND for s in background)

    half = height // 2
    rows = np.nonzero(smap.label_map == BACKGROUND)[0]
    assert (rows < half).any() and (rows >= half).any()
    # Upper half first, then lower; each stroke's path and pixels stay in its half.
    upper, lower = (stroke_pixels(s.points, (height, width), 1)[0] for s in background)
    assert upper.size and lower.size
    assert upper.max() < half <= lower.min()
    assert np.all(background[0].points[:, 1] < half)
    assert np.all(background[1].points[:, 1] >= half)
    assert not (mask & (smap.label_map == BACKGROUND)).any()


def test_horizontal_split_with_one_half_fully_covered_skips_that_half():
    mask = np.zeros((100, 80), dtype=bool)
    mask[:50] = True  # the whole upper half is object
    config = SimConfig(background_split="horizontal")
    smap = scribblesim.simulate([mask], [4], seed=1, config=config)
    background = [s for s in smap.strokes if s.instance is None]
    assert len(background) == 1
    assert [s.instance for s in smap.skipped] == [None]
    rows = np.nonzero(smap.label_map == BACKGROUND)[0]
    assert rows.size and rows.min() >= 50

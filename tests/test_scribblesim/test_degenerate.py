"""Degenerate and random masks never crash simulate(); invalid input raises a clear ValueError."""

from collections import Counter

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import scribblesim
from scribblesim import BACKGROUND, UNLABELLED, SimConfig, Skip
from scribblesim.engine.simulate import background_parts
from scribblesim.engine.skeleton import MAX_TREE_NODES

STYLES = {"line", "boundary", "background"}


def _owner(masks):
    """Index of the last mask covering each pixel, -1 where none does."""
    owner = np.full(masks.shape[1:], -1)
    for index, mask in enumerate(masks):
        owner[mask] = index
    return owner


def check_valid(smap, masks, classes, config=None, ignore=None):
    """Assert every invariant a ScribbleMap must satisfy for these inputs."""
    config = config or SimConfig()
    masks = np.asarray(masks, dtype=bool).reshape(-1, *np.shape(smap.label_map))
    n, shape = len(masks), masks.shape[1:]
    label_map = smap.label_map
    assert isinstance(smap, scribblesim.ScribbleMap)
    assert label_map.dtype == np.uint8 and label_map.shape == shape

    # Every instance is stroked or skipped, exactly once, never both.
    stroked = Counter(s.instance for s in smap.strokes if s.instance is not None)
    skipped = Counter(s.instance for s in smap.skipped if s.instance is not None)
    assert set(stroked.values()) <= {1} and set(skipped.values()) <= {1}
    assert not set(stroked) & set(skipped)
    assert set(stroked) | set(skipped) == set(range(n))
    assert all(s.reason.startswith(s.kind) or s.instance is None for s in smap.skipped)

    # Background: each part gets strokes (one without a split) or one skip record.
    parts = background_parts(shape[0], config)
    stroked_parts = Counter(
        next(k for k, rows in enumerate(parts) if rows.start <= round(s.points[0, 1]) < rows.stop)
        for s in smap.strokes
        if s.instance is None
    )
    skipped_parts = Counter(int(s.reason.split(":")[0].split()[-1]) for s in smap.skipped if s.instance is None)
    assert set(skipped_parts.values()) <= {1} and all(0 <= k < len(parts) for k in skipped_parts)
    assert set(stroked_parts) | set(skipped_parts) == (set(range(len(parts))) if config.background else set())
    if config.background_split == "none":
        assert sum(stroked_parts.values()) <= 1

    for stroke in smap.strokes:
        assert stroke.style in STYLES
        assert stroke.points.ndim == 2 and stroke.points.shape[1] == 2
        assert np.isfinite(stroke.points).all()
        if stroke.instance is None:
            assert stroke.label == BACKGROUND and stroke.style == "background"
        else:
            assert stroke.label == classes[stroke.instance] and stroke.style != "background"

    # Labelled pixels: fg on the owning mask with its class, bg only where no mask.
    owner = _owner(masks)
    semantic = scribblesim.semantic_map(masks, classes)
    fg = (label_map != BACKGROUND) & (label_map != UNLABELLED)
    assert (owner[fg] >= 0).all()
    assert (label_map[fg] == semantic[fg]).all()
    assert (owner[label_map == BACKGROUND] < 0).all()
    if ignore is not None:
        assert (label_map[ignore] == UNLABELLED).all()

    # A stroked instance keeps visible pixels; one with enough visible pixels is stroked.
    visible = np.bincount(owner[owner >= 0], minlength=n)
    for index in range(n):
        if index in stroked:
            assert (fg & (owner == index)).any()
        if visible[index] > config.min_area:
            assert index in stroked
        if visible[index] == 0:
            assert index in skipped


def run(masks, classes, seed=1, config=None, ignore=None):
    """Simulate and check; return the ScribbleMap."""
    smap = scribblesim.simulate(masks, classes, seed=seed, image_id=3, config=config, ignore=ignore)
    check_valid(smap, masks, classes, config=config, ignore=ignore)
    return smap


def _blank(h=32, w=32):
    return np.zeros((h, w), dtype=bool)


def _ring():
    mask = _blank(40, 40)
    mask[5:35, 5:35] = True
    mask[12:28, 12:28] = False
    return mask


def _many_components():
    mask = _blank(48, 48)
    mask[2::6, 2::6] = True
    mask[3::6, 2::6] = True
    return mask


def _diagonal():
    return np.eye(32, dtype=bool)


def _one_pixel():
    mask = _blank()
    mask[10, 20] = True
    return mask


def _two_by_two():
    mask = _blank()
    mask[10:12, 20:22] = True
    return mask


def _hline():
    mask = _blank()
    mask[16, 3:29] = True
    return mask


def _vline():
    mask = _blank()
    mask[3:29, 16] = True
    return mask


def _frame():
    mask = np.ones((30, 30), dtype=bool)
    mask[1:-1, 1:-1] = False
    return mask


def _cross_to_borders():
    mask = _blank(30, 30)
    mask[13:17, :] = True
    mask[:, 13:17] = True
    return mask


DEGENERATE = {
    "empty": _blank(),
    "one-pixel": _one_pixel(),
    "two-by-two": _two_by_two(),
    "horizontal-line": _hline(),
    "vertical-line": _vline(),
    "diagonal-line": _diagonal(),
    "ring-with-hole": _ring(),
    "many-small-components": _many_components(),
    "frame-on-all-borders": _frame(),
    "cross-touching-all-borders": _cross_to_borders(),
    "corner-pixel": np.pad(np.ones((1, 1), dtype=bool), ((0, 19), (0, 19))),
}


@pytest.mark.parametrize("name", sorted(DEGENERATE))
@pytest.mark.parametrize(
    "config", [SimConfig(), SimConfig(width=1, background_split="horizontal")], ids=["default", "width1-split"]
)
def test_degenerate_masks_give_valid_maps(name, config):
    mask = DEGENERATE[name]
    for seed in (0, 1, 2):
        smap = run([mask], [17], seed=seed, config=config)
        area = int(mask.sum())
        if area == 0:
            assert smap.skipped[-1] == Skip(0, "empty mask", "empty mask")
        elif area <= config.min_area:
            assert [s.instance for s in smap.skipped if s.instance is not None] == [0]
        else:
            assert [s.instance for s in smap.strokes if s.instance is not None] == [0]


@pytest.mark.parametrize("min_area", [0, 1])
@pytest.mark.parametrize("name", ["one-pixel", "two-by-two", "corner-pixel"])
def test_tiny_objects_are_stroked_iff_larger_than_min_area(name, min_area):
    mask = DEGENERATE[name]
    smap = run([mask], [9], config=SimConfig(min_area=min_area))
    stroked = [s.instance for s in smap.strokes if s.instance is not None]
    assert stroked == ([0] if mask.sum() > min_area else [])
    assert ((smap.label_map == 9).sum() >= 1) == bool(stroked)


def test_small_objects_are_skipped_with_a_reason():
    smap = run([_one_pixel()], [9])
    assert smap.skipped == [Skip(0, "too small", "too small (1 px <= min_area 5)")]
    assert (smap.label_map != 9).all()


def test_mask_covering_the_whole_image_skips_the_background():
    mask = np.ones((24, 36), dtype=bool)
    smap = run([mask], [5])
    background_skips = [s.reason for s in smap.skipped if s.instance is None]
    assert len(background_skips) == 1 and "background" in background_skips[0]
    assert not any(s.instance is None for s in smap.strokes)
    assert (smap.label_map != BACKGROUND).all()
    assert (smap.label_map == 5).any()


def test_no_background_pixels_when_ignore_covers_the_rest():
    mask = _blank(20, 20)
    mask[5:15, 5:15] = True
    smap = run([mask], [5], ignore=~mask)
    assert [s.instance for s in smap.skipped] == [None]
    assert (smap.label_map[~mask] == UNLABELLED).all()


def test_overlapping_masks_later_one_wins():
    first, second = _blank(60, 60), _blank(60, 60)
    first[10:50, 10:50] = True
    second[20:40, 5:55] = True  # cuts through the middle of the first
    for seed in range(6):
        smap = run([first, second], [3, 8], seed=seed)
        assert np.isin(smap.label_map[second], [8, 255]).all()
        assert np.isin(smap.label_map[first & ~second], [3, 255]).all()
        assert (smap.label_map[first & ~second] == 3).any()
        assert (smap.label_map[second] == 8).any()
        assert {s.instance for s in smap.strokes} == {None, 0, 1}


def test_fully_hidden_mask_is_skipped():
    first, second = _blank(), _blank()
    first[10:20, 10:20] = True
    second[5:25, 5:25] = True
    smap = run([first, second], [3, 8])
    assert Skip.of(0, "hidden by later objects or ignored pixels") in smap.skipped
    assert (smap.label_map != 3).all()


def test_identical_masks_same_class_only_last_is_stroked():
    mask = _ring()
    smap = run([mask, mask], [4, 4])
    assert [s.instance for s in smap.strokes if s.instance is not None] == [1]


def test_zero_masks_as_empty_array():
    masks = np.zeros((0, 30, 40), dtype=bool)
    smap = run(masks, [])
    assert smap.label_map.shape == (30, 40)
    assert [s.style for s in smap.strokes] == ["background"]
    assert smap.skipped == []
    assert set(np.unique(smap.label_map).tolist()) == {0, 255}


def test_semantic_map_paints_later_masks_over_earlier_ones():
    first, second = _blank(10, 10), _blank(10, 10)
    first[2:8, 2:8] = True
    second[5:10, 5:10] = True
    semantic = scribblesim.semantic_map([first, second], [3, 8])
    assert semantic.dtype == np.uint8
    assert (semantic[second] == 8).all()
    assert (semantic[first & ~second] == 3).all()
    assert (semantic[~first & ~second] == 0).all()
    assert (scribblesim.semantic_map(np.zeros((0, 4, 5), bool), []) == 0).all()


def test_zero_masks_with_numpy_classes():
    smap = run(np.zeros((0, 8, 8), dtype=bool), np.zeros(0, dtype=np.int64))
    assert smap.label_map.shape == (8, 8)


@pytest.mark.parametrize("shape", [(1, 1), (1, 30), (30, 1), (2, 2), (3, 50)])
def test_tiny_images(shape):
    full = np.ones(shape, dtype=bool)
    for masks in ([full], [~full], [full, ~full]):
        classes = [1 + k for k in range(len(masks))]
        for split in ("none", "horizontal"):
            run(masks, classes, config=SimConfig(background_split=split, min_area=0))


def test_integer_and_bool_masks_give_the_same_result():
    mask = _ring()
    a = scribblesim.simulate([mask], [6], seed=4)
    b = scribblesim.simulate(np.array([mask], dtype=np.uint8), np.array([6.0]), seed=4)
    np.testing.assert_array_equal(a.label_map, b.label_map)


def test_list_and_stack_give_the_same_result():
    masks = [_ring(), np.roll(_ring(), 3, axis=1)]
    a = scribblesim.simulate(masks, [6, 7], seed=4)
    b = scribblesim.simulate(np.stack(masks), (6, 7), seed=4)
    np.testing.assert_array_equal(a.label_map, b.label_map)


# --- property-based: random masks ------------------------------------------------


@st.composite
def random_scenes(draw):
    """Random boolean masks, classes, seed, ignore and config for one small image."""
    h = draw(st.integers(1, 40))
    w = draw(st.integers(1, 40))
    n = draw(st.integers(0, 4))
    masks = draw(arrays(np.bool_, (n, h, w)))
    classes = draw(st.lists(st.integers(1, 254), min_size=n, max_size=n))
    ignore = draw(st.none() | arrays(np.bool_, (h, w)))
    if ignore is not None:  # ignore marks pixels that are neither object nor background
        ignore &= ~masks.any(axis=0)
    config = SimConfig(
        width=draw(st.integers(1, 3)),
        min_area=draw(st.integers(0, 6)),
        background_split=draw(st.sampled_from(["none", "horizontal"])),
        clip_to_mask=True,
        boundary_probability=draw(st.sampled_from([None, 1.0])),
        boundary_inset=draw(st.sampled_from([None, 0.3, 0.9])),
        boundary_spiral=draw(st.sampled_from([0.0, 0.6, 0.95])),
    )
    seed = draw(st.integers(0, 2**32 - 1))
    return masks, classes, ignore, config, seed


@st.composite
def rectangle_scenes(draw):
    """Masks made of random rectangles (larger, more connected objects than noise)."""
    h = draw(st.integers(8, 64))
    w = draw(st.integers(8, 64))
    n = draw(st.integers(1, 4))
    masks = np.zeros((n, h, w), dtype=bool)
    for mask in masks:
        for _ in range(draw(st.integers(0, 3))):
            top, left = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
            mask[top : top + draw(st.integers(1, h)), left : left + draw(st.integers(1, w))] = True
    classes = draw(st.lists(st.integers(1, 254), min_size=n, max_size=n))
    config = SimConfig(
        erosion_kernel=draw(st.integers(1, 20)),
        bezier_degree=draw(st.integers(1, 6)),
        boundary_min_ratio=draw(st.sampled_from([0.0, 0.1])),
        max_work_pixels=draw(st.sampled_from([64, 256, 4096, None])),  # coarse grids too
        boundary_probability=draw(st.sampled_from([None, 0.5, 1.0])),
        boundary_inset=draw(st.sampled_from([None, 0.3, 0.9])),
        boundary_spiral=draw(st.sampled_from([0.0, 0.6, 0.95])),
    )
    seed = draw(st.integers(0, 2**32 - 1))
    return masks, classes, config, seed


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_scenes())
def test_random_masks_give_valid_maps(scene):
    masks, classes, ignore, config, seed = scene
    run(masks, classes, seed=seed, config=config, ignore=ignore)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rectangle_scenes())
def test_random_rectangles_give_valid_maps(scene):
    masks, classes, config, seed = scene
    first = run(masks, classes, seed=seed, config=config)
    again = scribblesim.simulate(masks, classes, seed=seed, image_id=3, config=config)
    np.testing.assert_array_equal(first.label_map, again.label_map)


# --- invalid input ---------------------------------------------------------------

MASK = np.zeros((1, 8, 8), dtype=bool)


@pytest.mark.parametrize(
    "masks, classes, match",
    [
        ([np.zeros((8, 8), bool), np.zeros((8, 9), bool)], [1, 2], "same shape"),
        (MASK, [1, 2], "one id per mask"),
        (MASK, [], "one id per mask"),
        (np.zeros((2, 8, 8), bool), [1], "one id per mask"),
        (MASK, [[1]], "one id per mask"),
        (MASK, [0], r"1\.\.65534"),
        (MASK, [65535], r"1\.\.65534"),
        (MASK, [-1], r"1\.\.65534"),
        (MASK, [1.5], "must be integers"),
        (MASK, [float("nan")], "must be integers"),
        (MASK, ["cat"], "must be integers"),
        (np.full((1, 8, 8), np.inf), [1], "NaN or infinite"),
        (np.full((1, 8, 8), np.nan), [1], "NaN or infinite"),
        (np.full((1, 8, 8), "1"), [1], "must be boolean"),
        ([np.full((8, 8), "x")], [1], "must be boolean"),
        (np.full((1, 8, 8), None, dtype=object), [1], "must be boolean"),
        (np.zeros((8, 8), bool), [1], r"shape \(N, H, W\)"),
        (np.zeros((1, 1, 8, 8), bool), [1], r"shape \(N, H, W\)"),
        ([], [], "masks is empty"),
        (np.zeros((1, 0, 8), bool), [1], "non-empty image size"),
    ],
    ids=[
        "mask-shape-mismatch",
        "too-many-classes",
        "no-classes",
        "too-few-classes",
        "2d-classes",
        "class-0",
        "class-65535",
        "class-minus-1",
        "class-1.5",
        "class-nan",
        "class-string",
        "inf-mask",
        "nan-mask",
        "string-mask",
        "string-mask-list",
        "object-mask",
        "2d-mask",
        "4d-mask",
        "empty-list",
        "zero-height",
    ],
)
def test_invalid_masks_and_classes_raise(masks, classes, match):
    with pytest.raises(ValueError, match=match):
        scribblesim.simulate(masks, classes)
    with pytest.raises(ValueError, match=match):
        scribblesim.semantic_map(masks, classes)


def test_masks_of_any_nonzero_value_are_foreground(coco_loaded):
    """0/255 uint8 masks (what PIL gives) and 0/1 int or float masks equal boolean ones."""
    sample = coco_loaded[0]
    expected = scribblesim.simulate(sample.masks, sample.classes, seed=1, ignore=sample.ignore)
    for masks in (
        np.asarray(sample.masks, np.uint8) * 255,
        np.asarray(sample.masks, np.int32),
        np.asarray(sample.masks, np.float32) * 0.5,
    ):
        smap = scribblesim.simulate(masks, sample.classes, seed=1, ignore=sample.ignore)
        np.testing.assert_array_equal(smap.label_map, expected.label_map)


def test_strokes_never_cover_ignored_pixels_even_unclipped(coco_loaded):
    config = SimConfig(clip_to_mask=False)
    for sample in coco_loaded[:6]:
        ignore = np.zeros(sample.semantic.shape, dtype=bool)
        ignore[::3] = True  # every third row, across objects and background
        smap = scribblesim.simulate(sample.masks, sample.classes, seed=1, config=config, ignore=ignore)
        assert (smap.label_map[ignore] == UNLABELLED).all()
        assert (smap.label_map != UNLABELLED).any()


def test_fragmented_background_is_bounded_work():
    """An empty 2048 x 1024 image with 48 % of its pixels ignored at random.

    Its background skeleton has some 160,000 junctions per part; networkx once took
    13-30 s over them. Trees are bounded (MAX_TREE_NODES) and the rest is recorded.
    Traced at full resolution: the default coarser grid keeps only all-background cells,
    and hardly any survives here.
    """
    ignore = np.random.default_rng(0).random((1024, 2048)) < 0.48
    masks = np.zeros((0, 1024, 2048), bool)
    config = SimConfig(background_split="horizontal", background_work_pixels=None)
    smap = scribblesim.simulate(masks, [], seed=1, config=config, ignore=ignore)
    reasons = [s.reason for s in smap.skipped if s.instance is None]
    assert len(reasons) == 2 and all("too fragmented" in r and f"> {MAX_TREE_NODES}" in r for r in reasons)
    assert {s.kind for s in smap.skipped} == {"skeleton too complex"}
    assert (smap.label_map[ignore] == UNLABELLED).all()


@pytest.mark.parametrize("seed", [-1, 1.5, "1", None, True])
def test_invalid_seed_raises(seed):
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        scribblesim.simulate(MASK, [1], seed=seed)


@pytest.mark.parametrize("image_id", [-1, 1.5, None, True])
def test_invalid_image_id_raises(image_id):
    with pytest.raises(ValueError, match="image_id must be"):
        scribblesim.simulate(MASK, [1], image_id=image_id)


@pytest.mark.parametrize("shape", [(8, 9), (9, 8), (8,), (1, 8, 8)])
def test_ignore_of_wrong_shape_raises(shape):
    with pytest.raises(ValueError, match="ignore must have the image shape"):
        scribblesim.simulate(MASK, [1], ignore=np.zeros(shape, dtype=bool))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"width": 0}, "width must be >= 1"),
        ({"width": -3}, "width must be >= 1"),
        ({"erosion_kernel": 0}, "erosion_kernel must be >= 1"),
        ({"background_split": "diagonal"}, "background_split must be"),
        ({"min_area": -1}, "min_area must be >= 0"),
        ({"boundary_min_ratio": 1.5}, r"boundary_min_ratio must lie in \[0, 1\]"),
        ({"bezier_degree": 0}, "bezier_degree must be >= 1"),
        ({"control_spacing": 0.0}, "control_spacing must be > 0"),
        ({"max_work_pixels": 10}, "max_work_pixels must be >= 64"),
    ],
)
def test_invalid_config_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SimConfig(**kwargs)


def test_ignore_wins_over_masks():
    """Ignored pixels get no scribble even under a mask; a fully ignored object is skipped."""
    masks = np.zeros((2, 40, 40), bool)
    masks[0, 5:35, 5:20] = True
    masks[1, 5:35, 22:38] = True
    ignore = np.zeros((40, 40), bool)
    ignore[:, 10:15] = True
    ignore[:, 21:] = True
    smap = scribblesim.simulate(masks, [3, 4], seed=1, ignore=ignore)
    assert not np.any(smap.label_map[ignore] != 255)
    assert Skip.of(1, "hidden by later objects or ignored pixels") in smap.skipped
    assert [s.instance for s in smap.strokes if s.instance is not None] == [0]

"""Stage-2 DPM maps computed only where the crop samples them equal the full-resolution ones.

The reference is the path as it was: scipy's exact EDT over the whole scribble and
pseudo-label, then the whole-array augmentation (:func:`apply_draw`, OpenCV's resize and
warp). The crop path (:meth:`Augment.crop`) computes the source pixel itself, so it must
give the same labels and maps for any geometry wherever no rotated coordinate lies within
rounding error of a half-pixel (:func:`rounding_ties`), at least 99 % of the pixels in all,
whatever OpenCV is installed; and the image up to rounding.
"""

from __future__ import annotations

import math
import warnings
from functools import partial

import cv2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from csptrain.data.crop_window import (
    crop_sampling,
    half_pixel_ties,
    inverse_rotation,
    nearest_source,
    rounding_ties,
)
from csptrain.data.distance import (
    foreground_boundary,
    pseudo_boundary_distance_map,
    saturation_distance,
    scribble_distance_map,
)
from csptrain.data.geometry import Draw, Window
from csptrain.data.labels import IGNORE
from csptrain.data.stage2 import MEAN_FILL, Augment, ScribbleDataset, apply_draw, rotate, scaled_size

#: How far the crop path's image may differ (grey levels): rounding of the warp weights, at most
#: 1 with OpenCV 5; 4.x rounds warp positions to 1/32 pixel (4.12 here too). A misplaced pixel
#: differs by more.
IMAGE_TOLERANCE = 2 if int(cv2.__version__.split(".")[0]) >= 5 else 10
#: The least share of crop pixels on which the crop path's labels and maps equal the reference's,
#: checked on crops of at least :data:`SHARE_PIXELS` (on a few pixels, one tie is a large share).
AGREEMENT = 0.99
SHARE_PIXELS = 10_000


def assert_agrees(old: np.ndarray, new: np.ndarray, ties: np.ndarray) -> None:
    """``new`` equals ``old`` off the rounding ties, and on at least :data:`AGREEMENT` of a large crop."""
    assert new.dtype == old.dtype and new.shape == old.shape
    same = old == new
    assert np.all(same[~ties]), np.argwhere(~same & ~ties)[:5]
    if same.size >= SHARE_PIXELS:
        assert same.mean() >= AGREEMENT


# --- the old path -------------------------------------------------------------------------


def old_truncated(points: np.ndarray, lam: float) -> np.ndarray:
    distance = ndimage.distance_transform_edt(~points) if points.any() else np.full(points.shape, np.inf)
    return np.minimum(np.floor(np.exp(lam / 2.0) * distance), 255.0) / 255.0


def old_scribble_map(scribble: np.ndarray, lam: float) -> np.ndarray:
    return (1.0 - old_truncated((scribble != 0) & (scribble != IGNORE), lam)).astype(np.float32)


def old_boundary(pseudo: np.ndarray) -> np.ndarray:
    foreground = (pseudo != 0) & (pseudo != IGNORE)
    return foreground & ~ndimage.binary_erosion(foreground, border_value=1)


def old_pseudo_map(pseudo: np.ndarray, lam: float) -> np.ndarray:
    return old_truncated(old_boundary(pseudo), lam).astype(np.float32)


def old_crop(image, scribble, pseudo, lam_s, lam_c, draw, crop, fill=1.0):
    """Full-resolution scipy maps, then every array through the whole-array augmentation."""
    maps = [old_scribble_map(scribble, lam_s), old_pseudo_map(pseudo, lam_c)]
    return (
        apply_draw(image, draw, crop, nearest=False, fill=MEAN_FILL, blur=True),
        [apply_draw(label, draw, crop, nearest=True, fill=IGNORE) for label in (scribble, pseudo)],
        [apply_draw(m, draw, crop, nearest=True, fill=fill) for m in maps],
    )


def new_crop(image, scribble, pseudo, lam_s, lam_c, draw, crop, fill=1.0):
    maps = [partial(scribble_distance_map, scribble, lam_s), partial(pseudo_boundary_distance_map, pseudo, lam_c)]
    return Augment(crop, map_fill=fill).crop(image, [scribble, pseudo], maps, draw)


# --- synthetic samples ----------------------------------------------------------------------


def labels_of(shape: tuple[int, int], seed: int, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, scribble, pseudo): strokes of classes 0-3 over IGNORE; pseudo regions with an uncertain band.

    ``kind``: "normal", "no-foreground" (background strokes only), "pseudo-ignore" (pseudo all
    IGNORE), "pseudo-background" (pseudo all 0) or "empty" (no strokes, pseudo all IGNORE).
    """
    rng = np.random.default_rng(seed)
    height, width = shape
    scribble = np.full(shape, IGNORE, np.uint16)
    classes = [0] if kind == "no-foreground" else [0, 1, 2, 3]
    for _ in range(0 if kind == "empty" else int(rng.integers(1, 6))):
        points = np.stack([rng.integers(0, width, 3), rng.integers(0, height, 3)], 1).astype(np.int32)
        cv2.polylines(scribble, [points.reshape(-1, 1, 2)], False, int(rng.choice(classes)), int(rng.integers(1, 4)))
    pseudo = np.zeros(shape, np.uint16)
    for _ in range(int(rng.integers(1, 5))):
        top, left = int(rng.integers(0, height)), int(rng.integers(0, width))
        pseudo[top : top + int(rng.integers(2, height + 1)), left : left + int(rng.integers(2, width + 1))] = (
            rng.integers(1, 4)
        )
    band = cv2.dilate(pseudo, np.ones((3, 3), np.uint8)) != cv2.erode(pseudo, np.ones((3, 3), np.uint8))
    pseudo[band & (rng.random(shape) < 0.7)] = IGNORE
    if kind in ("pseudo-ignore", "empty"):
        pseudo[:] = IGNORE
    elif kind == "pseudo-background":
        pseudo[:] = 0
    image = np.stack([scribble, pseudo, (scribble // 2 + pseudo // 2)], axis=-1).astype(np.uint8)
    image = cv2.GaussianBlur(image, (3, 3), 0)
    return image, scribble, pseudo


@st.composite
def draws(draw, shape: tuple[int, int], crop: int):
    """A Draw as :meth:`Augment.draw` makes them, with the extreme scales and larger angles too."""
    scale = draw(st.sampled_from([0.5, 2.0]) | st.floats(0.5, 2.0))
    angle = draw(st.sampled_from([0.0]) | st.floats(-10.0, 10.0) | st.floats(-40.0, 40.0))
    size = scaled_size(shape, scale)
    top = int(draw(st.floats(0, 1)) * (max(size[0], crop) - crop))
    left = int(draw(st.floats(0, 1)) * (max(size[1], crop) - crop))
    return Draw(size, angle, draw(st.booleans()), draw(st.booleans()), (top, left))


KINDS = ["normal"] * 4 + ["no-foreground", "pseudo-ignore", "pseudo-background", "empty"]


@settings(max_examples=120, deadline=None)
@given(
    st.data(),
    st.tuples(st.integers(8, 120), st.integers(8, 120)),
    st.integers(8, 100),
    st.sampled_from(KINDS),
    st.integers(0, 2**16),
    st.floats(1.0, 9.0),
    st.floats(3.0, 9.0),
    st.sampled_from([1.0, 0.0]),
)
def test_crop_path_equals_full_resolution_maps_through_the_augmentation(
    data, shape, crop, kind, seed, lam_s, lam_c, fill
) -> None:
    """Small images and large lambdas, so that the saturation distance is shorter than the image."""
    draw = data.draw(draws(shape, crop))
    image, scribble, pseudo = labels_of(shape, seed, kind)
    old_image, old_labels, old_maps = old_crop(image, scribble, pseudo, lam_s, lam_c, draw, crop, fill)
    new_image, new_labels, new_maps = new_crop(image, scribble, pseudo, lam_s, lam_c, draw, crop, fill)
    ties = rounding_ties(draw, crop)
    for old, new in zip(old_labels, new_labels):
        assert new.dtype == np.uint16
        assert_agrees(old, new, ties)
    for old, new in zip(old_maps, new_maps):
        assert new.dtype == np.float32 and new.shape == (crop, crop)
        assert_agrees(old, new, ties)
    assert np.abs(old_image.astype(int) - new_image).max() <= IMAGE_TOLERANCE


@pytest.mark.parametrize(
    ("shape", "lam_s", "lam_c"),
    [((480, 640), 1.0, 7.0), ((512, 1024), 2.0, 7.0)],
    ids=["coco", "cityscapes-half"],
)
def test_crop_path_at_the_presets_sizes_and_lambdas(shape, lam_s, lam_c) -> None:
    """The paper's crop (465) and the presets' lambdas on a COCO-size and a wide image: identical off ties."""
    image, scribble, pseudo = labels_of(shape, 7, "normal")
    augment = Augment(465)
    for k in range(8):
        draw = augment.draw(image.shape, np.random.default_rng([11, k]))
        old_image, old_labels, old_maps = old_crop(image, scribble, pseudo, lam_s, lam_c, draw, 465)
        new_image, new_labels, new_maps = new_crop(image, scribble, pseudo, lam_s, lam_c, draw, 465)
        ties = rounding_ties(draw, 465)
        assert ties.mean() < 0.01
        for old, new in zip(old_labels + old_maps, new_labels + new_maps):
            assert_agrees(old, new, ties)
        difference = np.abs(old_image.astype(int) - new_image)
        assert difference.max() <= IMAGE_TOLERANCE and difference.mean() < 0.5


@settings(max_examples=60, deadline=None)
@given(st.data(), st.tuples(st.integers(4, 90), st.integers(4, 90)), st.integers(4, 70))
def test_crop_sampling_takes_the_pixels_opencv_takes(data, shape, crop) -> None:
    """Each crop pixel's source pixel, against apply_draw of an image of pixel indices."""
    draw = data.draw(draws(shape, crop))
    sampling = crop_sampling(draw, shape, crop)
    index = np.arange(shape[0] * shape[1], dtype=np.float32).reshape(shape)
    expected = apply_draw(index, draw, crop, nearest=True, fill=-1)
    whole = Window(0, shape[0], 0, shape[1])
    if sampling.window is not None:
        assert sampling.window.grown(0, shape) == sampling.window  # inside the image
        whole = sampling.window
    assert_agrees(expected, sampling.take(index[whole.slices], -1.0), rounding_ties(draw, crop))


#: (height, width, angle): the Cityscapes size, and rotations on which OpenCV 4.10's
#: fixed point and 4.11's float32 arithmetics (with 8, 16 and 32-column SIMD blocks) take
#: different pixels somewhere.
ROTATIONS = [
    (1024, 2048, 9.3),
    (1590, 144, -9.42621983256111),
    (1857, 154, -5.955679444239237),
    (1563, 186, -5.657034851629437),
]


@pytest.mark.parametrize(("height", "width", "angle"), ROTATIONS)
def test_nearest_source_is_opencvs_but_for_half_pixel_ties(height: int, width: int, angle: float) -> None:
    """Our float64 rounding against this OpenCV's warp of a whole image: same pixel off the ties.

    The fast path depends on no OpenCV version's arithmetic; this bounds how far any may differ.
    """
    rows, cols = np.arange(height), np.arange(width)
    x, y = nearest_source(inverse_rotation((height, width), angle), rows, cols)
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    # pixel indices: exact in float64 (OpenCV warps 64-bit floats)
    source = np.arange(height * width, dtype=np.float64).reshape(height, width)
    expected = rotate(source, angle, nearest=True, fill=-1.0)
    ties = half_pixel_ties(inverse_rotation((height, width), angle), rows, cols)
    assert ties.mean() < 0.01
    assert_agrees(expected, np.where(inside, y * width + x, -1.0), ties)


def test_no_rounding_probe_and_no_whole_image_maps() -> None:
    """Labels and maps always come from a window of the source, with no warning, whatever the OpenCV.

    Maps are made only over the window the crop samples, never over the whole image (None).
    """
    image, scribble, pseudo = labels_of((600, 900), 5, "normal")
    asked: list[Window | None] = []

    def recorded(window: Window | None) -> np.ndarray:
        asked.append(window)
        return scribble_distance_map(scribble, 2.0, window)

    augment = Augment(64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for k in range(20):
            draw = augment.draw(image.shape, np.random.default_rng([5, k]))
            sampling = crop_sampling(draw, scribble.shape, 64)
            assert sampling.window is not None and sampling.window.shape[0] * sampling.window.shape[1] < 900 * 600 / 4
            augment.crop(image, [scribble, pseudo], [recorded], draw)
    assert len(asked) == 20 and None not in asked


def test_making_a_dataset_warns_of_nothing(tmp_path) -> None:
    """No OpenCV version makes the data path warn (it once fell back to whole images with a warning)."""
    (tmp_path / "scribbles").mkdir()
    (tmp_path / "ImageSets/SegmentationAug").mkdir(parents=True)
    (tmp_path / "ImageSets/SegmentationAug/train.txt").write_text("a\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ScribbleDataset(tmp_path, "train", "scribbles", None, Augment(32), 1.0, 7.0)


# --- OpenCV's EDT and erosion against scipy's ------------------------------------------------

labels = arrays(
    np.uint16, st.tuples(st.integers(1, 40), st.integers(1, 40)), elements=st.sampled_from([0, 1, 2, IGNORE])
)


@settings(max_examples=80, deadline=None)
@given(labels, st.floats(0.0, 8.0))
def test_opencv_maps_equal_scipy_maps(label: np.ndarray, lam: float) -> None:
    assert np.array_equal(foreground_boundary(label), old_boundary(label))
    assert np.array_equal(scribble_distance_map(label, lam), old_scribble_map(label, lam))
    assert np.array_equal(pseudo_boundary_distance_map(label, lam), old_pseudo_map(label, lam))


@settings(max_examples=60, deadline=None)
@given(labels, st.floats(2.0, 9.0), st.data())
def test_a_window_of_a_map_is_the_full_map_there(label: np.ndarray, lam: float, data) -> None:
    top = data.draw(st.integers(0, label.shape[0] - 1))
    left = data.draw(st.integers(0, label.shape[1] - 1))
    window = Window(
        top, data.draw(st.integers(top + 1, label.shape[0])), left, data.draw(st.integers(left + 1, label.shape[1]))
    )
    for make in (scribble_distance_map, pseudo_boundary_distance_map):
        assert np.array_equal(make(label, lam, window), make(label, lam)[window.slices])


def test_maps_on_a_large_image_equal_scipy_and_saturate() -> None:
    """Exact far from the points (squared distances recovered to the integer), and no points at all."""
    scribble = np.full((700, 1500), IGNORE, np.uint16)
    scribble[3, 7], scribble[650, 1400] = 1, 0
    for lam in (0.0, 1.0, 7.0):
        assert np.array_equal(scribble_distance_map(scribble, lam), old_scribble_map(scribble, lam))
        assert np.array_equal(pseudo_boundary_distance_map(scribble, lam), old_pseudo_map(scribble, lam))
    empty = np.full((30, 40), IGNORE, np.uint16)
    assert np.all(scribble_distance_map(empty, 1.0) == 0.0) and np.all(pseudo_boundary_distance_map(empty, 7.0) == 1.0)
    assert math.isclose(saturation_distance(1.0), 255 / math.exp(0.5))

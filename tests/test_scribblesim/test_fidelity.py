"""The reference simulator's figures, pinned on the embedded COCO sample (see docs/fidelity.md).

The reference (ScribbleSimulation at 31b8ffc) traces at full resolution, simplifies its
background path by 2 px, draws 2-px-thick OpenCV polylines, and blanks a 201-row band on
Cityscapes; these tests hold our defaults to the same figures.
"""

import cv2
import numpy as np
import pytest
import shapely

import scribblesim
from scribblesim import SimConfig
from scribblesim.engine.boundary import eroded_contour
from scribblesim.engine.medial import medial_axis
from scribblesim.engine.raster import stroke_pixels
from scribblesim.engine.simulate import background_parts, owner_map
from scribblesim.engine.styles import background_paths, boundary_outline, boundary_path


def _visible_masks(sample):
    owner = owner_map(np.asarray(sample.masks))
    return [owner == k for k in range(len(sample.masks))]


def test_boundary_strokes_stay_on_their_object(coco_loaded):
    """At most 5 % of a boundary stroke's length lies off its object (before clipping)."""
    config = SimConfig()
    off, strokes = 0, 0
    for sample in coco_loaded:
        for visible in _visible_masks(sample):
            if visible.mean() < 0.05:
                continue
            outline = boundary_outline(visible, config)
            if outline is None:
                continue
            for seed in range(3):
                path = boundary_path(outline, config, np.random.default_rng(seed))
                rows, cols = stroke_pixels(path, visible.shape, 1)
                off += int((~visible[rows, cols]).sum())
                strokes += rows.size
    assert strokes > 5000
    assert off / strokes <= 0.05


@pytest.mark.parametrize("kernel", [19, 20])
def test_eroded_contour_has_no_directional_bias(kernel):
    mask = np.zeros((120, 160), dtype=bool)
    mask[20:101, 30:131] = True  # centre (80, 60)
    points, centroid = eroded_contour(mask, kernel)
    np.testing.assert_allclose(centroid, [80.0, 60.0], atol=1e-9)
    np.testing.assert_allclose(
        [points[:, 0].min() + points[:, 0].max(), points[:, 1].min() + points[:, 1].max()], [160.0, 120.0], atol=1.0
    )


def test_background_strokes_follow_the_full_resolution_skeleton(coco_loaded):
    """Background strokes keep to the background's full-resolution medial axis on COCO-size images.

    They are traced on a 2x grid and simplified as the reference simplifies its own
    (Douglas-Peucker, 2 px): along the stroke, the distance to the full-resolution
    skeleton is at most a pixel at the median and 2 px, the reference's tolerance, at
    the 95th percentile. (A coarse staircase, the failure this guards against, sits up to
    half a cell off: 4.5 px on the old 9x grid.)
    """
    distances = []
    for sample in coco_loaded:
        assert max(sample.semantic.shape) >= 400
        (smap,) = scribblesim.simulate_seeds(sample.masks, sample.classes, [1], sample.image_id, ignore=sample.ignore)
        region = sample.semantic == scribblesim.BACKGROUND
        skeleton = medial_axis(np.pad(region, 1), rng=0)[1:-1, 1:-1]
        to_skeleton = cv2.distanceTransform((~skeleton).view(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
        for stroke in smap.strokes:
            if stroke.style == "background" and len(stroke.points) > 1:
                samples = np.rint(shapely.segmentize(shapely.LineString(stroke.points), 0.5).coords).astype(int)
                distances.append(to_skeleton[samples[:, 1], samples[:, 0]])
    distances = np.concatenate(distances)
    assert distances.size > 10_000
    assert np.median(distances) <= 1.0
    assert np.percentile(distances, 95) <= 2.0


def test_labelled_pixels_per_length_match_an_opencv_polyline(coco_maps):
    """Our width-2 strokes label as many pixels per unit length as cv2.polylines thickness 2 (+-10 %)."""
    ours = theirs = 0
    for smap in coco_maps:
        shape = smap.label_map.shape
        for stroke in smap.strokes:
            rows, _ = stroke_pixels(stroke.points, shape, SimConfig().width)
            canvas = np.zeros(shape, dtype=np.uint8)
            cv2.polylines(canvas, [np.rint(stroke.points).astype(np.int32)], False, 1, 2)
            ours += rows.size
            theirs += int(canvas.sum())
    assert theirs > 50_000
    assert abs(ours / theirs - 1.0) <= 0.10


def test_cityscapes_band_is_201_rows_at_1024_and_scales():
    config = SimConfig(background_split="horizontal")
    upper, lower = background_parts(1024, config)
    assert (upper.start, upper.stop, lower.start, lower.stop) == (0, 412, 613, 1024)  # rows 412..612 blank
    upper, lower = background_parts(512, config)
    assert 99 <= lower.start - upper.stop <= 101 and upper.stop <= 256 < lower.start
    assert background_parts(1024, SimConfig()) == [slice(0, 1024)]


def test_cityscapes_background_gets_a_stroke_on_every_skeleton_piece():
    region = np.zeros((60, 200), dtype=bool)
    region[5:25, 5:60] = region[30:55, 70:140] = region[10:20, 150:195] = True  # three pockets
    config = SimConfig(background_split="horizontal")
    rng = np.random.default_rng(0)
    every, reason = background_paths(region, config, rng, every_component=True)
    assert len(every) == 3 and reason is None
    largest, _ = background_paths(region, config, rng, every_component=False)
    assert len(largest) == 1


def test_cityscapes_scribbles_leave_the_band_blank(coco_loaded):
    config = SimConfig(background_split="horizontal")
    sample = coco_loaded[0]
    smap = scribblesim.simulate(sample.masks, sample.classes, seed=1, config=config, ignore=sample.ignore)
    upper, lower = background_parts(smap.label_map.shape[0], config)
    band = smap.label_map[upper.stop : lower.start]
    assert not (band == 0).any()
    assert (smap.label_map[upper] == 0).any() and (smap.label_map[lower] == 0).any()


def test_simulate_seeds_equals_simulate_per_seed(coco_loaded):
    for sample in coco_loaded[:4]:
        together = scribblesim.simulate_seeds(
            sample.masks, sample.classes, [3, 1], sample.image_id, ignore=sample.ignore
        )
        for seed, smap in zip([3, 1], together):
            alone = scribblesim.simulate(
                sample.masks, sample.classes, seed=seed, image_id=sample.image_id, ignore=sample.ignore
            )
            np.testing.assert_array_equal(smap.label_map, alone.label_map)
            assert [s.to_dict() for s in smap.strokes] == [s.to_dict() for s in alone.strokes]

"""Per-object scribble statistics, agreement, Fig. 18 counts, and `scribblesim stats`."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dataset_fixtures import build_tiny
from PIL import Image

from scribblesim.analysis.metrics import agreement, chamfer_distance, dilated_iou, object_stats, visible_owner
from scribblesim.analysis.objects import components_as_objects
from scribblesim.analysis.report import object_styles
from scribblesim.analysis.summary import distribution_distances, heatmap_counts, summarize, total_variation
from scribblesim.cli.main import main
from scribblesim.datasets.coco import coco_samples
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
from scribblesim.engine.vectorise import skeleton_length

U = 255


def blank(shape=(10, 10)) -> np.ndarray:
    return np.full(shape, U, dtype=np.uint8)


# --- per-object statistics ------------------------------------------------------------


def test_rectangle_with_a_line_hand_computed() -> None:
    mask = np.zeros((10, 10), bool)
    mask[2:7, 1:9] = True  # 5 x 8 = 40 pixels
    scribbles = blank()
    scribbles[4, 2:8] = 3  # 6 pixels on the middle row
    (s,) = object_stats([mask], [3], scribbles)
    assert (s.area, s.scribble_pixels, s.foreign_pixels) == (40, 6, 0)
    assert s.area_ratio == pytest.approx(0.4)
    assert s.scribble_ratio == pytest.approx(6 / 40)
    assert s.stroke_length == pytest.approx(5.0)
    assert s.length_ratio == pytest.approx(5.0 / math.sqrt(40))
    # Distance to the nearest outside pixel: 3 rows to either edge; columns 2 and 7 are 2 from the side.
    assert s.inscribed_radius == pytest.approx(3.0)
    np.testing.assert_allclose(s.boundary_distances, np.array([2, 3, 3, 3, 3, 2]) / 3)
    row = s.row()
    assert row["dist_mean"] == pytest.approx(16 / 18)
    assert row["dist_median"] == pytest.approx(1.0)
    assert row["style"] == "unknown"


def test_overlap_ignore_foreign_and_hidden_objects() -> None:
    a = np.zeros((8, 8), bool)
    a[0:4, 0:4] = True
    b = np.zeros((8, 8), bool)
    b[2:6, 2:6] = True
    hidden = np.zeros((8, 8), bool)
    hidden[3, 3] = True
    ignore = np.zeros((8, 8), bool)
    ignore[5, 5] = True
    scribbles = blank((8, 8))
    scribbles[0, 0] = 1  # on a
    scribbles[3, 3] = 1  # a's class on b's pixel (b is later): foreign for b
    scribbles[4, 4] = 2  # on b
    scribbles[5, 5] = 2  # ignored pixel: belongs to nobody
    stats = object_stats([a, hidden, b], [1, 5, 2], scribbles, ignore=ignore)
    assert [s.object for s in stats] == [0, 2]  # the hidden object has no visible pixel
    first, second = stats
    assert (first.area, first.scribble_pixels, first.foreign_pixels) == (12, 1, 0)
    assert (second.area, second.scribble_pixels, second.foreign_pixels) == (15, 1, 1)
    assert first.area_ratio == pytest.approx(12 / 64)
    assert second.scribble_ratio == pytest.approx(1 / 15)
    assert first.stroke_length == 0.0  # a single pixel has no length


def test_skeleton_length_counts_unit_and_diagonal_steps() -> None:
    line = np.zeros((5, 5), bool)
    line[2, :] = True
    assert skeleton_length(line) == pytest.approx(4.0)
    diagonal = np.eye(4, dtype=bool)
    assert skeleton_length(diagonal) == pytest.approx(3 * math.sqrt(2))
    corner = np.zeros((4, 5), bool)
    corner[0, 0:4] = True
    corner[1:3, 3] = True  # an L: 3 + 2 unit steps, no corner-cutting diagonal
    assert skeleton_length(corner) == pytest.approx(5.0)


def test_scribble_of_another_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="image shape"):
        object_stats([np.ones((4, 4), bool)], [1], blank((4, 5)))


# --- agreement -----------------------------------------------------------------------


def test_chamfer_distance_hand_computed() -> None:
    a = np.zeros((3, 3), bool)
    a[0, 1] = True
    b = np.zeros((3, 3), bool)
    b[2, :] = True
    # a -> b: 2; b -> a: (sqrt 5 + 2 + sqrt 5) / 3; symmetric = mean of the two.
    expected = (2 + (2 + 2 * math.sqrt(5)) / 3) / 2
    assert chamfer_distance(a, b) == pytest.approx(expected)
    assert chamfer_distance(a, a) == 0.0
    assert math.isnan(chamfer_distance(a, np.zeros_like(a)))


def test_dilated_iou_hand_computed() -> None:
    a = np.zeros((11, 11), bool)
    a[5, 5] = True
    b = np.zeros((11, 11), bool)
    b[5, 7] = True
    assert dilated_iou(a, b, 0) == 0.0
    # Radius-1 disks are 5-pixel crosses that share only (5, 6): IoU 1 / 9.
    assert dilated_iou(a, b, 1) == pytest.approx(1 / 9)
    within = np.zeros((11, 11), bool)
    within[5, :] = True  # keep the middle row only: {4,5,6} vs {6,7,8}
    assert dilated_iou(a, b, 1, within) == pytest.approx(1 / 5)
    assert math.isnan(dilated_iou(np.zeros_like(a), np.zeros_like(a), 1))


def test_agreement_per_object() -> None:
    mask = np.zeros((12, 12), bool)
    mask[1:11, 1:11] = True  # area 100
    first, second = blank((12, 12)), blank((12, 12))
    first[5, 3] = 4
    second[5, 6] = 4
    second[8, 8] = 9  # another class: not this object's scribble
    (g,) = agreement([mask], [4], first, second, radius=0)
    assert (g.area, g.pixels_a, g.pixels_b) == (100, 1, 1)
    assert g.chamfer == pytest.approx(3 / 10)  # 3 px apart, over sqrt(100)
    assert g.iou == 0.0
    (same,) = agreement([mask], [4], first, first, radius=2)
    assert (same.chamfer, same.iou) == (0.0, 1.0)
    (missing,) = agreement([mask], [4], first, blank((12, 12)), radius=1)
    assert math.isnan(missing.chamfer) and missing.iou == 0.0


# --- distributions and Fig. 18 ---------------------------------------------------------


def test_heatmap_counts_bins() -> None:
    counts = heatmap_counts(
        area_ratios=[0.001, 0.3, 1.0, 0.3],
        scribble_ratios=[0.005, 0.15, 0.02, 0.15],
        area_edges=(0, 1, 50, 100),
        scribble_edges=(0, 1, 10, 100),
    )
    # rows = scribble bins (0-1, 1-10, 10-100 %), columns = area bins (0-1, 1-50, 50-100 %)
    np.testing.assert_array_equal(counts, [[1, 0, 0], [0, 0, 1], [0, 2, 0]])


def test_distribution_distances_and_total_variation() -> None:
    assert distribution_distances([0, 1], [1, 2]) == {"wasserstein": 1.0, "ks": 0.5}
    assert distribution_distances([0, 1], [2, 3]) == {"wasserstein": 2.0, "ks": 1.0}
    assert distribution_distances([0.5, math.nan], [0.5])["wasserstein"] == 0.0
    assert total_variation(np.array([[2, 0]]), np.array([[0, 5]])) == 1.0
    assert total_variation(np.array([[1, 1]]), np.array([[2, 0]])) == 0.5


def test_summary_pools_boundary_distances() -> None:
    mask = np.zeros((10, 10), bool)
    mask[2:7, 1:9] = True
    scribbles = blank()
    scribbles[4, 2:8] = 3
    summary = summarize(object_stats([mask], [3], scribbles))
    assert summary["objects"] == 1 and summary["scribbled_objects"] == 1
    distances = summary["boundary_distance"]
    assert distances["pixels"] == 6
    # 2/3 falls in [0.6, 0.7), 1.0 in the closed last bin [0.9, 1.0].
    assert distances["fraction"][6] == pytest.approx(2 / 6)
    assert distances["fraction"][9] == pytest.approx(4 / 6)
    assert np.array(summary["heatmap"]["counts"]).sum() == 1


# --- objects and styles of a build output ------------------------------------------------


def test_components_as_objects() -> None:
    semantic = np.zeros((6, 6), np.uint8)
    semantic[0:2, 0:2] = 5
    semantic[4:6, 4:6] = 5
    semantic[0, 5] = 7
    semantic[3, 0] = U
    objects = components_as_objects(semantic)
    assert objects.classes.tolist() == [5, 5, 7]
    assert objects.masks.sum(axis=(1, 2)).tolist() == [4, 4, 1]
    assert objects.ignore.sum() == 1 and objects.ignore[3, 0]


def test_styles_follow_the_owning_strokes() -> None:
    a = np.zeros((10, 10), bool)
    a[0:4, :] = True
    b = np.zeros((10, 10), bool)
    b[6:10, :] = True
    scribbles = blank()
    scribbles[2, 1:8] = 1
    record = {
        "strokes": [
            {"points": [[1, 2], [7, 2]], "label": 1, "instance": 0, "style": "boundary"},
            {"points": [[1, 8], [7, 8]], "label": 2, "instance": 1, "style": "line"},
        ]
    }
    owner = visible_owner(np.stack([a, b]))
    assert object_styles(owner, np.array([1, 2]), scribbles, record) == ["boundary", "none"]
    assert object_styles(owner, np.array([1, 2]), scribbles, None) == ["unknown", "unknown"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("stats") / "out", seeds=(1, 2))


def run(*args: str):
    return CliRunner().invoke(main, [str(a) for a in args])


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_stats_cli_with_true_instances(tiny: Path, tmp_path: Path) -> None:
    dest = tmp_path / "stats"
    result = run("stats", tiny, "--seed", 1, "--out", dest, "--root", coco_sample_root())
    assert result.exit_code == 0, result.output
    rows = read_csv(dest / "objects.csv")
    summary = json.loads((dest / "summary.json").read_text())
    assert summary["objects_from"] == "dataset" and summary["objects"] == len(rows)
    loaded = [s.load() for s in coco_samples(coco_sample_root(), COCO_SAMPLE_SPLIT)[:3]]
    visible = sum(len(np.unique(visible_owner(s.masks, s.ignore))) - 1 for s in loaded)
    assert len(rows) == visible == 20
    # Simulated scribbles lie on their own object: no foreign pixels; every object is scribbled.
    assert all(r["foreign_pixels"] == "0" for r in rows)
    assert all(float(r["scribble_ratio"]) > 0 and r["style"] in ("line", "boundary") for r in rows)
    assert {r["class"] for r in rows} >= {"car", "giraffe"}
    with Image.open(dest / "fig18_heatmap.png") as image:
        assert image.format == "PNG" and image.size[0] > 300


def test_stats_cli_compare_seeds_and_components(tiny: Path, tmp_path: Path) -> None:
    dest = tmp_path / "compare"
    result = run("stats", tiny, "--seed", 1, "--compare-seed", 2, "--out", dest)
    assert result.exit_code == 0, result.output
    summary = json.loads((dest / "summary.json").read_text())
    assert summary["objects_from"] == "components"
    compare = summary["compare"]
    agreements = read_csv(dest / "agreement.csv")
    assert compare["objects"] == len(agreements) == summary["objects"]
    ious = [float(r["iou"]) for r in agreements if r["iou"]]
    assert all(0.0 <= v <= 1.0 for v in ious) and compare["dilated_iou"]["n"] == len(ious)
    assert 0.0 <= compare["distribution_distances"]["heatmap_total_variation"] <= 1.0
    assert (dest / "fig18_heatmap_compare.png").is_file()
    # Comparing a set with itself is refused.
    same = run("stats", tiny, "--seed", 1, "--compare", tiny, "--compare-seed", 1, "--out", tmp_path / "x")
    assert same.exit_code == 2 and "the measured set itself" in same.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("stats", "{missing}", "--seed", "1"), "output folder not found"),
        (("stats", "{out}", "--seed", "9"), "tiny_scribble_r9: scribble folder not found"),
        (("stats", "{out}", "--seed", "1", "--area-bins", "5,1"), "--area-bins"),
        (("stats", "{out}", "--seed", "1", "--root", "{missing}"), "--root"),
    ],
)
def test_stats_cli_user_errors(tiny: Path, tmp_path: Path, args, needle) -> None:
    filled = [a.format(out=tiny, missing=tmp_path / "nope") for a in args]
    result = run(*filled, "--out", tmp_path / "dest")
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and needle in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output

"""Scribble style measures, human scribble folders, and ``stats --compare-human`` (issue 13, first step)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

import scribblesim
from scribblesim import SimConfig
from scribblesim.analysis.fit import BRUSHES, fit_style, objects_only, search_subset
from scribblesim.analysis.human_compare import compare_with_humans, human_band
from scribblesim.analysis.style_measures import RIM_DEPTH, chamfer_ratio, style_measures
from scribblesim.cli.main import main
from scribblesim.datasets.human import read_human_examples
from scribblesim.engine.simulate import owner_map
from scribblesim.errors import DatasetError


@settings(max_examples=40, deadline=None)
@given(half=st.integers(2, 8), extra=st.integers(0, 30), data=st.data())
def test_depth_and_rim_of_a_stroke_in_a_strip(half: int, extra: int, data) -> None:
    height = 2 * half + 1
    width = 4 * height + extra
    row = data.draw(st.integers(0, height - 1))
    mask = np.zeros((height + 2, width + 2), bool)
    mask[1:-1, 1:-1] = True
    scribbles = np.full(mask.shape, 255, np.uint8)
    scribbles[1 + row, 1 + height : 1 + width - height] = 4  # far from the ends: the depth is the row's
    measured = style_measures([mask], [4], scribbles)[0]
    depth = min(row + 1, height - row) / (half + 1)
    assert measured.depth == pytest.approx(depth)
    assert measured.rim == (1.0 if depth < RIM_DEPTH else 0.0)
    assert measured.length == pytest.approx((width - 2 * height - 1) / math.sqrt(height * width))
    assert measured.strokes == 1 and measured.width == pytest.approx(1.0)
    assert measured.share == pytest.approx((width - 2 * height) / (height * width))


def test_reach_is_how_far_the_object_lies_from_its_scribble() -> None:
    mask = np.zeros((9, 30), bool)
    mask[1:8, 1:29] = True  # inscribed radius 4
    scribbles = np.full(mask.shape, 255, np.uint8)
    assert math.isnan(style_measures([mask], [1], scribbles)[0].reach)  # no scribble
    scribbles[mask] = 1
    covered = style_measures([mask], [1], scribbles)[0]
    assert covered.reach == 0.0 and covered.share == 1.0
    scribbles[:] = 255
    scribbles[1:8, 1] = 1  # the left end's column: each column lies its distance from it
    column = style_measures([mask], [1], scribbles)[0]
    assert column.reach == pytest.approx(np.arange(28).mean() / 4)
    # the edge: the top and bottom rows (0-27 away), the left column between them (0), the right one (27)
    edge = np.concatenate([np.arange(28), np.arange(28), np.zeros(5), np.full(5, 27)])
    assert column.edge == pytest.approx(edge.mean() / 4)


@settings(max_examples=30, deadline=None)
@given(inner=st.integers(6, 20), width=st.integers(6, 16), where=st.floats(0.2, 0.8))
def test_across_is_where_a_scribble_runs_across_a_ring(inner: int, width: int, where: float) -> None:
    """A circle at a share ``where`` of an annulus's width measures about ``where``; a disc has no across."""
    import cv2

    size = 2 * (inner + width) + 9
    centre = size // 2
    rows, cols = np.mgrid[:size, :size]
    radius = np.hypot(rows - centre, cols - centre)
    ring = (radius >= inner) & (radius < inner + width)
    scribbles = np.full(ring.shape, 255, np.uint8)
    drawn = round(inner + where * width - 0.5)
    cv2.circle(scribbles, (centre, centre), drawn, 1, 1)
    measured = style_measures([ring], [1], scribbles)[0]
    # distances run to the nearest pixel centre of the hole (radius inner - 1/2) and of the outside (inner + width + 1/2)
    assert measured.across == pytest.approx((drawn - inner + 0.5) / (width + 1), abs=0.1)
    assert math.isnan(style_measures([radius < inner + width], [1], scribbles)[0].across)  # no hole


@settings(max_examples=30, deadline=None)
@given(thickness=st.integers(1, 9), length=st.integers(40, 120))
def test_width_of_a_thick_stroke_is_its_thickness(thickness: int, length: int) -> None:
    mask = np.ones((40, length + 20), bool)
    scribbles = np.full(mask.shape, 255, np.uint8)
    scribbles[20 - thickness // 2 : 20 - thickness // 2 + thickness, 10 : 10 + length] = 1
    measured = style_measures([mask], [1], scribbles)[0]
    # the skeleton stops about half the thickness short of either end
    assert measured.width == pytest.approx(thickness, rel=0.1 + thickness / length)


def test_strokes_count_pieces_and_foreign_labels_do_not_count() -> None:
    mask = np.zeros((20, 40), bool)
    mask[2:18, 2:38] = True
    scribbles = np.full(mask.shape, 255, np.uint8)
    scribbles[6, 5:15] = 1
    scribbles[12, 20:35] = 1
    scribbles[9, 5:35] = 2  # another object's label on this one
    measured = style_measures([mask], [1], scribbles)[0]
    assert measured.strokes == 2 and 0 < measured.depth < 1
    empty = style_measures([mask], [1], np.full(mask.shape, 255, np.uint8))[0]
    assert empty.strokes == 0 and empty.length == 0 and math.isnan(empty.depth) and math.isnan(empty.rim)
    assert math.isnan(empty.width)


def test_chamfer_ratio_of_two_parallel_strokes() -> None:
    mask = np.zeros((30, 60), bool)
    mask[5:25, 5:55] = True
    first, second = (np.full(mask.shape, 255, np.uint8) for _ in range(2))
    first[12, 10:50] = 3
    second[16, 10:50] = 3
    assert chamfer_ratio(mask, 3, first, second) == pytest.approx(4 / math.sqrt(mask.sum()))
    assert chamfer_ratio(mask, 3, first, first) == 0
    assert math.isnan(chamfer_ratio(mask, 3, first, np.full(mask.shape, 255, np.uint8)))


def test_human_band() -> None:
    assert human_band([0.4, 0.6]) == pytest.approx((0.3, 0.7))
    assert human_band([2.0]) == (1.5, 2.5)
    assert human_band([0.5, math.nan, 0.5]) == (0.5, 0.5)
    assert all(math.isnan(v) for v in human_band([math.nan]))


def write_human_folder(
    root: Path, coco_loaded, images: int = 3, annotator_seeds=(1, 2), config: SimConfig | None = None
) -> Path:
    """A human folder of real COCO shapes whose "annotators" are the simulator with the given seeds and config."""
    for sample in coco_loaded[:images]:
        folder = root / "coco" / sample.name
        folder.mkdir(parents=True)
        truth = (owner_map(sample.masks) + 1).astype(np.uint8)  # object k = instance k - 1
        ids = [k for k in range(1, len(sample.masks) + 1) if (truth == k).any()]
        masks = np.stack([truth == k for k in ids])
        Image.fromarray(truth).save(folder / "gt.png")
        maps = scribblesim.simulate_seeds(
            masks, ids, seeds=annotator_seeds, image_id=f"coco/{sample.name}", config=config
        )
        for a, smap in enumerate(maps):
            Image.fromarray(smap.label_map).save(folder / f"human_{a}.png")
    return root


def test_read_human_folder_and_its_errors(coco_loaded, tmp_path: Path) -> None:
    root = write_human_folder(tmp_path / "human", coco_loaded, images=2)
    examples = read_human_examples(root)
    assert [(e.source, len(e.scribbles)) for e in examples] == [("coco", 2), ("coco", 2)]
    assert [e.name for e in read_human_examples(root / "coco")] == [e.name for e in examples]  # one source
    assert examples[0].masks.shape[0] == len(examples[0].object_ids) > 0
    with pytest.raises(DatasetError, match="human scribble folder not found"):
        read_human_examples(tmp_path / "nope")
    with pytest.raises(DatasetError, match="no {example}/gt.png"):
        read_human_examples(tmp_path)
    broken = root / "coco" / examples[0].name
    Image.fromarray(np.zeros((3, 3), np.uint8)).save(broken / "human_1.png")
    with pytest.raises(DatasetError, match=r"human_1.png: size \(3, 3\) differs"):
        read_human_examples(root)
    for path in broken.glob("human_*.png"):
        path.unlink()
    with pytest.raises(DatasetError, match="no human_\\*.png"):
        read_human_examples(root)


def test_simulation_against_annotators_that_are_the_simulator(coco_loaded, tmp_path: Path) -> None:
    # Annotators = seeds 1 and 2; simulated annotators = the same seeds: every simulated value
    # is one of the humans', so it lies in the band, and the Chamfer ratio is exactly 1.
    examples = read_human_examples(write_human_folder(tmp_path / "human", coco_loaded))
    (same,) = compare_with_humans(examples, seeds=(1, 2))
    assert same.objects > 5 and same.annotators == 2 and same.unstroked == 0
    assert all(same.agreement(m) == 1.0 for m in ("length", "depth", "rim"))
    assert same.chamfer_ratio() == pytest.approx(1.0)
    (other,) = compare_with_humans(examples, seeds=(5, 6, 7))
    assert len(other.simulated["length"]) == 3 * other.objects
    assert all(0 <= other.agreement(m) <= 1 for m in ("length", "depth", "rim"))
    assert other.to_dict()["measures"]["strokes"]["inside_band"] is None


def test_cli_compare_human(coco_loaded, tmp_path: Path) -> None:
    root = write_human_folder(tmp_path / "human", coco_loaded, images=2)
    runner = CliRunner()
    result = runner.invoke(
        main, ["stats", "--compare-human", str(root), "--out", str(tmp_path / "cmp"), "--sim-seeds", "1", "2"]
    )
    assert result.exit_code == 0, result.output
    assert "coco" in result.output and "100 %" in result.output
    record = json.loads((tmp_path / "cmp/human_compare.json").read_text())
    assert record["seeds"] == [1, 2] and record["sources"][0]["chamfer_ratio"] == pytest.approx(1.0)
    assert (tmp_path / "cmp/human_compare.png").read_bytes()[:4] == b"\x89PNG"
    for args, line in [
        (["--compare-human", str(tmp_path / "nope")], f"error: {tmp_path / 'nope'}: human scribble folder not found\n"),
        (
            ["--compare-human", str(root), "--seed", "1"],
            "error: --compare-human: measures the human folder's own objects; pass no OUT and no --seed\n",
        ),
        ([], "error: stats: pass OUT and --seed (or --compare-human HUMAN_DIR)\n"),
    ]:
        bad = runner.invoke(main, ["stats", *args, "--out", str(tmp_path / "bad")])
        assert bad.exit_code == 2 and bad.stderr == line


@pytest.mark.parametrize(
    ("knob", "values", "truth"),
    [
        ("stroke_length", (None, 0.7, 0.4), 0.4),
        ("inset", (0.0, 0.25, 0.5), 0.5),
        (("boundary_probability", "boundary_inset"), ((None, None), (1.0, 0.5), (1.0, 0.2)), (1.0, 0.5)),
    ],
)
def test_fit_recovers_the_knob_the_scribbles_were_drawn_with(coco_loaded, tmp_path: Path, knob, values, truth) -> None:
    drawn_with = {knob: truth} if isinstance(knob, str) else dict(zip(knob, truth))
    root = write_human_folder(
        tmp_path / "human", coco_loaded, images=4, annotator_seeds=(11, 12), config=SimConfig(**drawn_with)
    )
    examples = read_human_examples(root)
    # fitted on all four images: on three, two annotators of one style can differ by a fifth
    # in the pixels they label
    result = fit_style(examples, seeds=(1, 2), knob_values={knob: values}, held_out=0)
    assert result.knobs() == drawn_with
    # each width and value simulated once however many rounds score it (the paper's width 2 is one of the widths),
    # and each fitted field reset alone, if that is new
    tried = len(BRUSHES) + len(values) - 1
    assert tried <= result.evaluations <= tried + len(drawn_with)
    again = fit_style(examples, seeds=(1, 2), knob_values={knob: values}, held_out=0, jobs=2)
    assert again.config == result.config and again.evaluations == result.evaluations  # deterministic, any jobs
    banded = ("length", "depth", "rim")
    assert sum(result.after[0].agreement(m) for m in banded) > sum(result.before[0].agreement(m) for m in banded)


def test_fit_matches_the_humans_brush_width(coco_loaded, tmp_path: Path) -> None:
    examples = read_human_examples(
        write_human_folder(tmp_path / "human", coco_loaded, images=2, config=SimConfig(width=5))
    )
    result = fit_style(examples, seeds=(1, 2), knob_values={})
    assert result.knobs() == {"width": 5}
    assert np.median(result.after[0].simulated["width"]) == pytest.approx(
        np.median(result.after[0].human["width"]), rel=0.1
    )


def test_fit_keeps_the_paper_value_of_a_knob_that_changes_nothing(coco_loaded, tmp_path: Path) -> None:
    examples = read_human_examples(write_human_folder(tmp_path / "human", coco_loaded, images=2))
    # a stroke's position acts only on a shortened stroke: "random" draws what "centred" does
    result = fit_style(examples, seeds=(1, 2), knob_values={"stroke_position": ("random", "centred")})
    assert result.knobs() == {} and result.evaluations == len(BRUSHES) + 1


def test_the_search_leaves_out_background_strokes_and_nothing_else(coco_loaded, tmp_path: Path) -> None:
    examples = read_human_examples(write_human_folder(tmp_path / "human", coco_loaded, images=3))
    config = SimConfig(stroke_path="leaf-to-leaf", zigzag_reach=0.5)
    (full,), (objects,) = (compare_with_humans(examples, c, seeds=(1, 2)) for c in (config, objects_only(config)))
    assert not objects_only(config).background and objects_only(SimConfig(clip_to_mask=False)).background
    assert dict(objects.simulated) == dict(full.simulated) and objects.seed_chamfer == full.seed_chamfer


def test_search_subset_spreads_over_each_source(coco_loaded, tmp_path: Path) -> None:
    examples = read_human_examples(write_human_folder(tmp_path / "human", coco_loaded, images=5))
    assert [e.name for e in search_subset(examples, 3)] == [examples[k].name for k in (0, 2, 4)]
    assert search_subset(examples, 10) == list(examples)


def test_cli_fit_writes_a_style_file_that_build_reads(coco_loaded, tmp_path: Path) -> None:
    root = write_human_folder(tmp_path / "human", coco_loaded, images=2, config=SimConfig(stroke_length=0.4))
    # nothing held out: the fit's "after" covers the examples that stats compares
    result = CliRunner().invoke(main, ["fit", str(root), "--out", str(tmp_path / "style.json"), "--held-out", "0"])
    assert result.exit_code == 0, result.output
    assert "before (the paper's style)" in result.output and "after (" in result.output
    assert "held out" not in result.output
    record = json.loads((tmp_path / "style.json").read_text())
    assert record["format"] == "scribblesim-style-1" and record["score"]["after"] >= record["score"]["before"]
    fitted = SimConfig.from_file(tmp_path / "style.json")
    assert {k: getattr(fitted, k) for k in record["knobs"]} == record["knobs"]
    compared = CliRunner().invoke(
        main,
        [
            "stats",
            "--compare-human",
            str(root),
            "--style",
            str(tmp_path / "style.json"),
            "--sim-seeds",
            "1",
            "2",
            "--out",
            str(tmp_path / "cmp"),
        ],
    )
    assert compared.exit_code == 0 and f"against {tmp_path / 'style.json'}" in compared.output
    compare = json.loads((tmp_path / "cmp/human_compare.json").read_text())
    assert compare["config"] == fitted.to_dict()
    assert compare["sources"][0]["measures"]["length"] == record["sources"]["coco"]["after"]["measures"]["length"]
    bad = CliRunner().invoke(main, ["fit", str(tmp_path / "nope"), "--out", str(tmp_path / "s.json")])
    assert bad.exit_code == 2 and bad.stderr == f"error: {tmp_path / 'nope'}: human scribble folder not found\n"
    bad = CliRunner().invoke(main, ["fit", str(root), "--out", str(tmp_path / "s.json"), "--jobs", "0"])
    assert bad.exit_code == 2 and bad.stderr == (
        "error: Invalid value for '--jobs': must be a positive number of workers or -1, got 0 (see main fit --help)\n"
    )


def test_fit_and_compare_a_build_with_folders_of_human_scribbles(tmp_path: Path) -> None:
    """A build's images, with its two seeds' scribble sets standing in for two annotators' PNG folders."""
    from dataset_fixtures import build_tiny

    from scribblesim.analysis.objects import human_examples_from_build
    from scribblesim.datasets.sample import coco_sample_root
    from scribblesim.sets.scribble_set import read_label_map

    out = build_tiny(tmp_path / "out", seeds=(1, 2))
    folders = sorted(out.glob("tiny_scribble_r*"))
    examples = human_examples_from_build(out, folders, root=coco_sample_root())
    assert [e.name for e in examples] == sorted(p.stem for p in folders[0].glob("*.png")) and len(examples) == 3
    for example in examples:
        assert example.source == "coco" and len(example.scribbles) == 2
        for human, folder in zip(example.scribbles, folders):
            labels = read_label_map(folder / f"{example.name}.png")
            on = (human > 0) & (human < 255)
            assert (human[on] == example.truth[on]).all()  # object k's scribble lies on object k
            # every foreground scribble pixel of the build carries its object's class, so none is lost
            assert on.sum() == ((labels > 0) & (labels < 255)).sum()
            assert ((human == 0) == (labels == 0)).all()
    runner = CliRunner()
    common = [*(word for f in folders for word in ("--scribbles", str(f))), "--root", str(coco_sample_root())]
    fitted = runner.invoke(main, ["fit", str(out), *common, "--out", str(tmp_path / "style.json"), "--jobs", "1"])
    assert fitted.exit_code == 0, fitted.output
    record = json.loads((tmp_path / "style.json").read_text())["sources"]["coco"]
    # one of the three images held out from the search, and measured on its own
    assert record["after"]["objects"] + record["held_out"]["after"]["objects"] == sum(
        len(e.object_ids) for e in examples
    )
    assert record["held_out"]["after"]["objects"] == len(examples[1].object_ids)
    compared = runner.invoke(
        main, ["stats", "--compare-human", str(out), *common, "--out", str(tmp_path / "cmp"), "--sim-seeds", "1", "2"]
    )
    assert compared.exit_code == 0, compared.output
    assert json.loads((tmp_path / "cmp/human_compare.json").read_text())["sources"][0]["annotators"] == 2
    for args, line in [
        (
            ["fit", str(out), "--root", str(coco_sample_root()), "--out", str(tmp_path / "s.json")],
            "error: --root, --split: only with --scribbles (HUMAN_DIR a build output)\n",
        ),
        (
            ["fit", str(out), "--scribbles", str(tmp_path / "nope"), "--out", str(tmp_path / "s.json")],
            f"error: {tmp_path / 'nope'}: scribble folder not found\n",
        ),
        (
            ["stats", str(out), "--seed", "1", "--scribbles", str(folders[0]), "--out", str(tmp_path / "s")],
            "error: --scribbles: only with --compare-human\n",
        ),
    ]:
        bad = runner.invoke(main, args)
        assert bad.exit_code == 2 and bad.stderr == line, bad.output

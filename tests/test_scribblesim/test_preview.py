"""Preview strips, contact sheet and `scribblesim preview`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from dataset_fixtures import build_tiny
from PIL import Image
from scipy import ndimage

from scribblesim.analysis.preview import MISSING_GREY, contact_sheet, legend, preview_image, thicken
from scribblesim.cli.main import main
from scribblesim.sets.files import label_png_bytes
from scribblesim.sets.palette import PALETTE, colorize, overlay
from scribblesim.sets.scribble_set import open_set, read_label_map

CAPTION, GAP = 18, 4
U = 255


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("preview") / "out", seeds=(1, 2))


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_preview_panels(tiny: Path) -> None:
    name = "000000000030"
    sets = [open_set(tiny, 1), open_set(tiny, 2)]
    strip = preview_image(tiny, name, sets, with_legend=False)
    with Image.open(tiny / "JPEGImages" / f"{name}.jpg") as image:
        rgb = np.asarray(image.convert("RGB"))
    height, width = rgb.shape[:2]
    assert strip.dtype == np.uint8 and strip.shape == (height + CAPTION, 4 * width + 3 * GAP, 3)

    def panel(k: int) -> np.ndarray:
        left = k * (width + GAP)
        return strip[CAPTION:, left : left + width]

    np.testing.assert_array_equal(panel(0), rgb)
    truth = read_label_map(tiny / "SegmentationClassAug" / f"{name}.png")
    np.testing.assert_array_equal(panel(1), colorize(truth))
    for k, scribbles in enumerate(sets, start=2):
        label_map = scribbles.label_map(name)
        shown = panel(k)
        objects = (label_map != U) & (label_map != 0)
        np.testing.assert_array_equal(shown[objects], PALETTE[label_map[objects]])  # class palette
        assert (shown[label_map == 0] == 255).all()  # background scribbles white
        ring = ndimage.binary_dilation(label_map != U, np.ones((3, 3), bool)) & (label_map == U)
        assert np.isin(shown[ring], [0, 255]).all()  # a black or white outline
        assert (shown[ring & ndimage.binary_dilation(label_map == 0, np.ones((3, 3), bool))] == 0).any()
        untouched = (label_map == U) & ~ring
        np.testing.assert_array_equal(shown[untouched], (rgb[untouched].astype(np.float32) * 0.5).astype(np.uint8))
    with_legend = preview_image(tiny, name, sets)
    assert with_legend.shape[0] > strip.shape[0] and with_legend.shape[1] == strip.shape[1]
    np.testing.assert_array_equal(with_legend[: strip.shape[0]], strip)


def test_dark_strokes_get_a_white_outline_and_pale_ones_a_black_one() -> None:
    image = np.full((9, 9, 3), 200, np.uint8)
    label_map = np.full((9, 9), U, np.uint8)
    label_map[4, 2] = 1  # VOC colour (128, 0, 0): dark
    label_map[4, 6] = 0  # background, drawn white
    shown = overlay(image, label_map)
    assert (shown[3:6, 1] == 255).all() and (shown[3, 2] == 255).all()
    assert (shown[3:6, 7] == 0).all() and (shown[5, 6] == 0).all()


def test_legend_names_the_classes_and_captions_stay_whole(tiny: Path) -> None:
    rows = legend([0, 1, 15, U], ["background", "aeroplane"] + ["x"] * 13 + ["person"], 400)
    assert rows.shape == (CAPTION, 400, 3)
    for colour in ([255, 255, 255], PALETTE[1], PALETTE[15]):
        assert (rows == colour).all(axis=-1).any()  # a swatch of each
    assert legend(list(range(1, 60)), [], 200).shape[0] > 2 * CAPTION  # many classes wrap
    narrow = preview_image(tiny, "000000000030", [open_set(tiny, 1)], height=10, with_legend=False)
    assert narrow.shape[1] > 3 * 14  # the captions are wider than the 14-px panels


def test_preview_height_and_thickened_strokes(tiny: Path) -> None:
    strip = preview_image(tiny, "000000000030", [open_set(tiny, 1)], height=100, with_legend=False)
    assert strip.shape[0] == 100 + CAPTION
    label_map = np.full((5, 5), U, np.uint8)
    label_map[2, 2] = 7
    label_map[0, 0] = 3
    grown = thicken(label_map, 3)
    expected = np.full((5, 5), U, np.uint8)
    expected[0:2, 0:2] = 3
    expected[1:4, 1:4] = 7  # the higher label wins where neighbourhoods meet
    expected[0, 0] = 3  # labelled pixels keep their label
    np.testing.assert_array_equal(grown, expected)


def test_contact_sheet_pads_rows() -> None:
    sheet = contact_sheet([np.zeros((2, 3, 3), np.uint8), np.zeros((4, 5, 3), np.uint8)])
    assert sheet.shape == (2 + GAP + 4 + GAP, 5, 3)
    assert (sheet[0:2, 3:] == 255).all() and (sheet[0:2, :3] == 0).all()


def test_preview_cli(tiny: Path, tmp_path: Path) -> None:
    dest = tmp_path / "preview"
    result = run("preview", tiny, "--seeds", 1, 2, "-n", 2, "--out", dest)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in dest.iterdir()) == ["000000000030.png", "000000000071.png", "contact_sheet.png"]
    with Image.open(dest / "contact_sheet.png") as sheet:
        assert sheet.mode == "RGB" and sheet.size[1] >= 2 * (160 + CAPTION + GAP) + CAPTION  # + legend
    chosen = run("preview", tiny, "--seed", 1, "--ids", "000000000072,000000000030", "--out", tmp_path / "ids")
    assert chosen.exit_code == 0, chosen.output
    assert sorted(p.name for p in (tmp_path / "ids").iterdir()) == [
        "000000000030.png",
        "000000000072.png",
        "contact_sheet.png",
    ]


def test_preview_without_images_uses_grey_panels(tmp_path: Path) -> None:
    source = tmp_path / "pngs"
    source.mkdir()
    label_map = np.full((20, 30), U, np.uint8)
    label_map[5, 2:20] = 4
    (source / "x.png").write_bytes(label_png_bytes(label_map))
    out = tmp_path / "human"
    assert run("import", "png", source, "--out", out).exit_code == 0
    strip = preview_image(out, "x", [open_set(out, 0)], with_legend=False)
    assert strip.shape[0] == 20 + CAPTION and strip.shape[1] >= 3 * 30 + 2 * GAP
    assert (strip[CAPTION:, :30] == MISSING_GREY).all()
    left = np.flatnonzero((strip[CAPTION + 5] == PALETTE[4]).all(axis=-1))[0] - 2  # captions may widen panels
    scribbled = strip[CAPTION:, left : left + 30]
    assert (scribbled[5, 2:20] == PALETTE[4]).all() and (scribbled[8, :30] == MISSING_GREY // 2).all()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--seed", "3"), "tiny_scribble_r3: scribble folder not found"),
        (("--seed", "1", "--ids", "nope"), "no scribbles for --ids nope"),
        (("--seed", "1", "-n", "0"), "-n: must be at least 1"),
        (("--seed", "../x"), "'--seeds' / '--seed': not a seed or set tag: '../x' (see main preview --help)"),
        (("--seeds", "1", "two"), "Got unexpected extra argument (two)"),
    ],
)
def test_preview_cli_user_errors(tiny: Path, tmp_path: Path, args, needle) -> None:
    result = run("preview", tiny, *args, "--out", tmp_path / "p")
    assert result.exit_code == 2 and result.output.startswith("error: ") and needle in result.output
    assert result.output.count("\n") == 1

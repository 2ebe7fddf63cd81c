"""Preview strips, contact sheet and `scribblesim preview`."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from dataset_fixtures import build_tiny
from click.testing import CliRunner
from PIL import Image

from scribblesim.cli import main
from scribblesim.scribble_set import open_set, read_label_map
from scribblesim.io import label_png_bytes
from scribblesim.palette import PALETTE, colorize
from scribblesim.preview import MISSING_GREY, contact_sheet, preview_image, thicken

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
    strip = preview_image(tiny, name, sets)
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
        untouched = label_map == U
        np.testing.assert_array_equal(shown[untouched], (rgb[untouched].astype(np.float32) * 0.5).astype(np.uint8))


def test_preview_height_and_thickened_strokes(tiny: Path) -> None:
    strip = preview_image(tiny, "000000000030", [open_set(tiny, 1)], height=100)
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
    result = run("preview", tiny, "--seed", 1, "--seed", 2, "-n", 2, "--out", dest)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in dest.iterdir()) == ["000000000030.png", "000000000071.png", "contact_sheet.png"]
    with Image.open(dest / "contact_sheet.png") as sheet:
        assert sheet.mode == "RGB" and sheet.size[1] == 2 * (160 + CAPTION + GAP)
    chosen = run("preview", tiny, "--seed", 1, "--ids", "000000000072,000000000030", "--out", tmp_path / "ids")
    assert chosen.exit_code == 0, chosen.output
    assert sorted(p.name for p in (tmp_path / "ids").iterdir()) == ["000000000030.png", "000000000072.png", "contact_sheet.png"]


def test_preview_without_images_uses_grey_panels(tmp_path: Path) -> None:
    source = tmp_path / "pngs"
    source.mkdir()
    label_map = np.full((20, 30), U, np.uint8)
    label_map[5, 2:20] = 4
    (source / "x.png").write_bytes(label_png_bytes(label_map))
    out = tmp_path / "human"
    assert run("import", "png", source, "--out", out).exit_code == 0
    strip = preview_image(out, "x", [open_set(out, 0)])
    assert strip.shape == (20 + CAPTION, 3 * 30 + 2 * GAP, 3)
    assert (strip[CAPTION:, :30] == MISSING_GREY).all()
    scribbled = strip[CAPTION:, 2 * (30 + GAP) :]
    assert (scribbled[5, 2:20] == PALETTE[4]).all() and (scribbled[6] == MISSING_GREY // 2).all()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--seed", "3"), "tiny_scribble_r3: scribble folder not found"),
        (("--seed", "1", "--ids", "nope"), "no scribbles for --ids nope"),
        (("--seed", "1", "-n", "0"), "-n: must be at least 1"),
        (("--seed", "../x"), "--seed: not a seed or set tag"),
    ],
)
def test_preview_cli_user_errors(tiny: Path, tmp_path: Path, args, needle) -> None:
    result = run("preview", tiny, *args, "--out", tmp_path / "p")
    assert result.exit_code == 2 and result.output.startswith("error: ") and needle in result.output
    assert result.output.count("\n") == 1

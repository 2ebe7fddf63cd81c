"""Fixtures of the csptrain tests that use what stage 2 trained (predict, export)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from dataset_fixtures import build_tiny

from csptrain.cli import main
from csptrain.data.layout import read_split

TINY = ["--backbone", "resnet18", "--crop-size", "64", "--batch-size", "2", "--epochs", "1", "--max-steps", "2"]
TINY += ["--device", "cpu", "--workers", "0", "--no-progress"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> tuple[Path, Path]:
    """(build, stage-2 checkpoint) of 2 steps on four quarter-size sample images, split ``train``."""
    root = tmp_path_factory.mktemp("predict")
    data = build_tiny(root / "data", count=4, split="train", shrink=4)
    ids = read_split(data, "train")
    (data / "ImageSets/SegmentationAug/val.txt").write_text("".join(f"{name}\n" for name in ids))
    args = ["stage2", "--data", str(data), "--scribbles", "tiny_scribble_r1", "--out", str(root / "run"), *TINY]
    result = CliRunner().invoke(main, [*args, "--preset", "coco"])
    assert result.exit_code == 0, result.output
    return data, root / "run" / "last.pt"

"""``csptrain run`` end to end on a tiny build of the embedded COCO sample: plan, steps, reruns, bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from dataset_fixtures import build_tiny

from csptrain.cli import main
from csptrain.data.layout import find_image, read_image, read_split

#: Flags of a tiny CPU ``csptrain run`` with every stage-1 term active from the first step.
RUN_FLAGS = [
    "--preset",
    "coco",
    "--device",
    "cpu",
    "--workers",
    "0",
    "--stage1-backbone",
    "vit_tiny_patch16_224",
    "--stage1-crop-size",
    "64",
    "--stage1-local-crop-size",
    "32",
    "--backbone",
    "resnet18",
    "--crop-size",
    "64",
    "--batch-size",
    "2",
    "--max-steps",
    "2",
    "--train-split",
    "val2017",
    "--val-split",
    "val2017",
    "--protocol",
    "single-scale",
    "--accumulate",
    "1",
    "--no-progress",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Four sample images built as split ``val2017`` with seeds 1 and 2, shrunk to a quarter (160 x 120 or so)."""
    return build_tiny(tmp_path_factory.mktemp("tiny-run"), count=4, seeds=(1, 2), split="val2017", shrink=4)


def test_run_end_to_end_then_rerun_skips_everything(data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    runs = tmp_path / "runs"
    command = ["run", "--data", str(data), "--seeds", "1", "2", "--out", str(runs), *RUN_FLAGS]
    result = runner.invoke(main, command)
    assert result.exit_code == 0, result.output
    for seed in (1, 2):
        root = runs / f"r{seed}"
        assert (root / "stage1/last.pt").is_file() and (root / "stage2/last.pt").is_file()
        assert len(list((root / "pseudo").glob("*.png"))) == 4
        assert len(list((root / "stage2/predictions").glob("*.png"))) == 4
        assert json.loads((root / "stage2/eval.json").read_text())["checkpoint_step"] == 2
    report = json.loads((runs / "report.json").read_text())
    assert [r["name"] for r in report["runs"]] == ["r1", "r2"]
    assert all(0 <= r["pseudo_miou"] <= 100 for r in report["runs"])
    assert "mean ± std" in result.output and "pseudo mIoU" in (runs / "report.txt").read_text()
    assert (runs / "report.png").read_bytes().startswith(b"\x89PNG") and "report.png" in result.output
    previews = sorted((runs / "preview").glob("*.png"))  # --preview's default: 4 val images
    assert [p.stem for p in previews] == sorted(
        read_split(data, "val2017")
    ) and "preview: 4 val images" in result.output
    for path in previews:  # image, ground truth and prediction side by side
        assert read_image(path).shape[1] > 3 * read_image(find_image(data, path.stem)).shape[1]

    rewritten = ("report", "preview")  # the report and the pictures are redrawn on every run
    stamps = {
        p: p.stat().st_mtime_ns
        for p in runs.rglob("*")
        if p.is_file() and not any(w in str(p.relative_to(runs)) for w in rewritten)
    }
    again = runner.invoke(main, command)
    assert again.exit_code == 0, again.output
    assert again.output.count(" done ") == 8 and "todo" not in again.output
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}

    plan = runner.invoke(main, [*command[:-1], "--max-steps", "3", "--dry-run"])
    assert plan.exit_code == 0 and plan.output.count(" todo ") == 8  # more steps: every step resumes


def test_run_bad_input_is_one_line(data: Path, tmp_path: Path) -> None:
    runner = CliRunner()

    def error(*args: str) -> str:
        result = runner.invoke(main, ["run", *args, "--out", str(tmp_path / "runs"), *RUN_FLAGS])
        assert result.exit_code == 2, result.output
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
        return result.stderr

    assert "build folder not found" in error("--data", str(tmp_path / "nope"), "--seeds", "1")
    assert "*_scribble_r7" in error("--data", str(data), "--seeds", "7")
    result = runner.invoke(
        main,
        [
            "run",
            "--data",
            str(data),
            "--seeds",
            "1",
            "--out",
            str(tmp_path / "r"),
            *RUN_FLAGS,
            "--preset",
            "cityscapes",
        ],
    )
    assert result.exit_code == 2 and "preset 'cityscapes' is for 9 classes" in result.stderr
    broken = tmp_path / "runs/r1/stage1"
    broken.mkdir(parents=True)
    (broken / "last.pt").write_bytes(b"garbage")
    assert "last.pt: unreadable checkpoint" in error("--data", str(data), "--seeds", "1")
    shutil.rmtree(tmp_path / "runs")
    assert "--seeds" in error("--data", str(data))


def test_run_settings_are_one_set_and_stage1_keeps_its_own_steps(data: Path, tmp_path: Path) -> None:
    help_text = CliRunner().invoke(main, ["run", "--help"]).output
    for flag in ("--stage1-device", "--stage1-workers", "--stage1-bf16", "--stage1-compile"):
        assert flag not in help_text  # how the job runs is one set: one process group, one device
    assert "--stage1-max-steps" in help_text and "--stage1-accumulate" in help_text
    command = ["run", "--data", str(data), "--seeds", "1", "--out", str(tmp_path / "runs"), *RUN_FLAGS]
    plan = CliRunner().invoke(main, [*command, "--stage1-max-steps", "1", "--dry-run"])
    assert plan.exit_code == 0, plan.output
    assert "train stage 1 on tiny_scribble_r1 to step 1" in plan.output

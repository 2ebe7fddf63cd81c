"""csptrain.reporting.report: per-run mIoU, mean and sample standard deviation, and unreadable records."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from csptrain.errors import DataError
from csptrain.reporting.report import RunResult, format_report, read_runs, report_json
from csptrain.runs import TrainingRun

PROTOCOL = {"name": "single-scale", "scales": [1.0], "flip": False}


def test_mean_and_sample_std_over_runs() -> None:
    rows = [RunResult("r1", 40.0, 60.0, 10.0), RunResult("r2", 44.0, 62.0, 12.0)]
    table = format_report(rows)
    assert table.splitlines()[0].split() == ["run", "mIoU", "(%)", "pseudo", "mIoU", "(%)", "uncertain", "(%)"]
    assert "42.00 ± 2.83" in table and "61.00 ± 1.41" in table
    record = report_json(rows, "val")
    assert record["miou_mean"] == 42.0 and record["miou_std"] == pytest.approx(math.sqrt(8))


def test_one_run_has_no_spread_and_missing_numbers_are_left_out() -> None:
    record = report_json([RunResult("r1", 40.0), RunResult("r2", math.nan)], "val")
    assert record["miou_mean"] == 40.0 and record["miou_std"] == 0.0 and math.isnan(record["pseudo_miou_mean"])


def test_reads_each_runs_evaluation_and_names_bad_ones(tmp_path: Path) -> None:
    for name, miou in (("a", 0.5), ("b", 0.25)):
        run = TrainingRun(tmp_path / name)
        run.folder.mkdir()
        run.write_evaluation({"miou": miou, "protocol": PROTOCOL}, run.checkpoint, 3)
    rows = read_runs([tmp_path / "a", tmp_path / "b"])
    assert [(r.name, r.miou) for r in rows] == [("a", 50.0), ("b", 25.0)]
    assert "evaluation: single-scale" in format_report(rows)
    with pytest.raises(DataError, match="c/eval.json: no evaluation; run csptrain eval first"):
        read_runs([tmp_path / "c"])
    TrainingRun(tmp_path / "a").evaluation_file.write_text("{}")
    with pytest.raises(DataError, match="a/eval.json: unreadable evaluation"):
        read_runs([tmp_path / "a"])

"""``benchmarks/gpu_check.py`` in its tiny CPU mode, so that the one-command GPU check cannot rot."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[2]


def test_gpu_check_measures_every_figure_and_projects_the_paper_runs() -> None:
    result = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", "--tiny", "--json", "--device", "cpu"],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    figures = json.loads(result.stdout)
    assert figures["device"] == "CPU" and figures["precision"] == "fp32"
    rates = (
        "stage1_iterations_per_s",
        "stage2_images_per_s",
        "stage2_loader_images_per_s",
        "eval_windows_per_s",
        "pseudo_coco_s",
        "pseudo_cityscapes_s",
        "stage1_peak_memory_mb",
        "stage2_peak_memory_mb",
    )
    for name in rates:
        assert figures[name] > 0, name
    assert 0 < figures["regulariser_share"] < 1
    assert figures["stage2_loader_workers"] >= 1
    # the authors' protocol: several scales of 465-px windows over a 640 x 480 COCO image
    assert figures["eval_coco_windows_per_image"] >= 7
    assert figures["eval_cityscapes_windows_per_image"] > figures["eval_coco_windows_per_image"]
    for run in ("coco", "cityscapes"):
        hours = figures["projection_hours"][run]
        assert set(hours) == {"stage1", "pseudo", "stage2", "eval", "total"}
        assert all(value > 0 and math.isfinite(value) for value in hours.values())
        assert math.isclose(hours["total"], sum(v for k, v in hours.items() if k != "total"))

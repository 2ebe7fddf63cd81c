"""Benchmark scripts run small, so that they cannot rot: ``versus_reference.py`` on two images with a
stand-in reference, ``scale.py`` on a few hundred images, ``interrupts.py`` on three trials."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "versus_reference.py"


def test_versus_reference_times_both_sides(tmp_path: Path) -> None:
    code = tmp_path / "reference"
    code.mkdir()
    # The reference's command line, doing nothing: only the plumbing is under test.
    (code / "generate_scribble_frominstanceCOCO_random_mp.py").write_text(
        "import argparse\np = argparse.ArgumentParser()\n"
        "for a in ('--dataDir', '--dataType', '--save_dir', '--random', '--numworkers'): p.add_argument(a)\n"
        "args = p.parse_args()\nassert args.numworkers == '1'\n"
    )
    command = [sys.executable, str(SCRIPT), "--reference", str(code), "--reference-python", sys.executable]
    run = subprocess.run([*command, "--limit", "2", "--json"], capture_output=True, text=True, check=True, timeout=300)
    rows = json.loads(run.stdout)["rows"]
    assert [row["seeds"] for row in rows] == [1, 3]
    for row in rows:
        assert len(row["ours_s"]) == 4 and all(t > 0 for t in row["ours_s"])
        low, high = row["speed_up_range"]
        assert 0 < low <= high


def test_versus_reference_needs_the_reference(tmp_path: Path) -> None:
    command = [sys.executable, str(SCRIPT), "--reference", str(tmp_path), "--reference-python", sys.executable]
    run = subprocess.run(command, capture_output=True, text=True)
    assert run.returncode != 0 and "--reference" in run.stderr and "Traceback" not in run.stderr


def test_scale_stops_and_picks_up_a_build(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "scale.py"
    command = [sys.executable, str(script), "--images", "300", "--baseline-images", "60", "--stop-at", "40"]
    command += ["--rerun-seconds", "1", "--jobs", "2", "--sample-every", "0.1", "--work", str(tmp_path), "--json"]
    result = json.loads(subprocess.run(command, capture_output=True, text=True, check=True, timeout=600).stdout)
    assert result["interrupted"] == {"exit": 130, "lines": ["error: interrupted"], "leaked_warning": False}
    assert result["terminated"] == {"exit": 130, "lines": ["error: terminated (SIGTERM)"], "leaked_warning": False}
    assert result["stopped_at_images"] >= 40 and result["rerun_added_images"] > 0 and result["first_image_s"] > 0
    assert result["parent_peak_rss_mb"] > 0 and len(result["worker_peak_uss_mb"]) >= 2


def test_interrupts_at_random_moments_exit_130_and_reruns_finish(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "benchmarks" / "interrupts.py"
    command = [sys.executable, str(script), "--trials", "3", "--seeds", "1", "--json"]
    run = subprocess.run(command, capture_output=True, text=True, timeout=600)
    summary = json.loads(run.stdout)
    assert run.returncode == 0 and summary["as_promised"] == summary["trials"] == 3, summary
    assert all(t["rerun_equal"] for t in summary["runs"])

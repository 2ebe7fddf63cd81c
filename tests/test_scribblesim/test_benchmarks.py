"""``benchmarks/versus_reference.py`` on two images with a stand-in reference, so that the side-by-side cannot rot."""

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

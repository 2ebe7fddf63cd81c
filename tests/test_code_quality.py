"""ruff and mypy run with the tests, since .ci/run runs exactly the README's test command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_on_scribblesim(tmp_path: Path) -> None:
    result = run("mypy", "--cache-dir", str(tmp_path / "mypy"))  # what to check: pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr

"""ruff, mypy and the packages' floors are checked with the tests, since .ci/run runs exactly the README's
test command."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]  # tests/ sits in the repository root


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


def test_ruff_is_clean() -> None:
    result = run("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_format_is_kept() -> None:
    result = run("ruff", "format", "--check", "--no-cache", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_is_clean_on_both_packages(tmp_path: Path) -> None:
    result = run("mypy", "--cache-dir", str(tmp_path / "mypy"))  # what to check: pyproject.toml
    assert result.returncode == 0, result.stdout + result.stderr


def imported_modules(path: Path) -> set[str]:
    """The absolute names of the modules ``path`` imports (relative imports resolved)."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level - 1)[0] if node.level else ""
            module = ".".join(part for part in (base, node.module or "") if part)
            names.add(module)
            names.update(f"{module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("floor", ["models", "losses", "data"])
def test_csptrain_lower_floors_import_nothing_above_them(floor: str) -> None:
    """Data, models and losses know nothing of the trainers, their run-time or the pipeline."""
    above = ("csptrain.runtime", "csptrain.stage1", "csptrain.stage2", "csptrain.pipeline", "csptrain.cli")
    for path in sorted((ROOT / "csptrain" / floor).glob("*.py")):
        wrong = sorted(name for name in imported_modules(path) if name.startswith(above))
        assert not wrong, f"{path.relative_to(ROOT)} imports {wrong}"


def test_run_folder_names_are_spelt_only_by_the_run_layout() -> None:
    names = ("eval.json", "inputs.json", "last.pt", "progress.json", "source.json", "report.json")
    for path in sorted((ROOT / "csptrain").rglob("*.py")):
        if path.name == "runs.py":
            continue
        spelt = [name for name in names if name in path.read_text()]
        assert not spelt, f"{path.relative_to(ROOT)} spells {spelt}; ask csptrain.runs"

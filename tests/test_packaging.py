"""Packaging: scribblesim without torch, the embedded sample, and the wheel: every module of both packages in it, and a non-editable install of it that works.

Editable installs (every other test) import from the checkout, so they cannot see a package
folder that the wheel leaves out; this test installs the wheel itself into a new virtual
environment and runs the two commands from there.
"""

from __future__ import annotations

import ast
import os
import shutil
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
PACKAGES = ("scribblesim", "csptrain")


def source_modules() -> set[str]:
    """Every module file of both packages in the checkout, as wheel paths."""
    return {
        path.relative_to(REPOSITORY).as_posix()
        for package in PACKAGES
        for path in (REPOSITORY / package).rglob("*.py")
        if "__pycache__" not in path.parts
    }


def test_scribblesim_imports_without_torch() -> None:
    code = (
        "import sys, scribblesim, scribblesim.cli.main, scribblesim.sets.build, scribblesim.analysis.metrics,"
        " scribblesim.analysis.summary, scribblesim.analysis.objects, scribblesim.analysis.figures,"
        " scribblesim.analysis.report, scribblesim.analysis.preview;"
        "print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_embedded_sample_is_package_data() -> None:
    from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root

    root = coco_sample_root()
    assert (root / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json").is_file()
    assert len(list((root / COCO_SAMPLE_SPLIT).glob("*.jpg"))) == 33
    assert (root / "ATTRIBUTION.md").is_file()


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a copy of the checkout (offline: the dev extra brings setuptools).

    A copy, because setuptools builds in the source folder's ``build/``.
    """
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPOSITORY / name, source / name)
    for package in PACKAGES:
        shutil.copytree(REPOSITORY / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    command = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out)]
    subprocess.run([*command, str(source)], check=True, capture_output=True, timeout=300)
    (built,) = out.glob("scribblesim-*.whl")
    return built


def test_wheel_holds_every_module_and_the_sample(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    assert source_modules() <= names, sorted(source_modules() - names)
    assert "csptrain/runtime/__init__.py" in names
    assert any(n.startswith("scribblesim/coco_sample/train2017/") and n.endswith(".jpg") for n in names)
    assert "scribblesim/coco_sample/annotations/instances_train2017.json" in names
    # the benchmarks' library stays beside them
    assert not any(n.startswith(("csptrain/experiments/", "lab/", "benchmarks/")) for n in names)


def test_no_product_module_imports_the_benchmarks() -> None:
    for module in source_modules():
        tree = ast.parse((REPOSITORY / module).read_text(encoding="utf-8"))
        imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        assert not {name.split(".")[0] for name in imported} & {"lab", "benchmarks"}, module


def test_installed_wheel_builds_the_sample_and_imports_every_module(wheel: Path, tmp_path: Path) -> None:
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", str(wheel)]
    subprocess.run(install, check=True, capture_output=True, timeout=300)
    # The dependencies come from this environment's site-packages, appended after the new
    # environment's own (a .pth file), so the wheel's packages, not the checkout's, are imported.
    (own_site,) = (env_dir / "lib").glob("python*/site-packages")
    (own_site / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}

    def run(*command: str | Path) -> str:
        done = subprocess.run(
            [str(c) for c in command], capture_output=True, text=True, timeout=300, cwd=tmp_path, env=env
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    modules = sorted(name.removesuffix(".py").removesuffix("/__init__").replace("/", ".") for name in source_modules())
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    module = importlib.import_module(name)\n"
        f"    assert module.__file__.startswith({str(own_site)!r}), module.__file__\n"
        "import csptrain, scribblesim\n"
        "assert csptrain.__version__ == scribblesim.__version__\n"
    )
    run(python, "-c", script)
    out = tmp_path / "out"
    run(env_dir / "bin" / "scribblesim", "build", "coco", "--out", out, "--seeds", "1", "--no-progress")
    ids = (out / "ImageSets" / "SegmentationAug" / "train.txt").read_text().split()
    assert len(ids) >= 32  # the sample's images with annotations
    assert sorted(p.stem for p in (out / "coco2017_train_scribble_r1").glob("*.png")) == sorted(ids)
    assert "stage1" in run(env_dir / "bin" / "csptrain", "--help")

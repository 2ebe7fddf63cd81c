"""scribblesim build coco: layout, determinism, resume after SIGKILL, bad input, dask."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
from click.testing import CliRunner
from dask.distributed import LocalCluster
from PIL import Image

from scribblesim.cli.main import main
from scribblesim.datasets.sample import coco_sample_root

SAMPLE_IMAGES = 33
#: The sample's image without any annotation record: left out by default, as the paper's counts.
UNANNOTATED = "000000000508"
LISTED = SAMPLE_IMAGES - 1


def run_cli(*args: str):
    return CliRunner().invoke(main, [*args, "--no-progress"], catch_exceptions=True)


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (symlinks by target) with its bytes."""
    return {
        str(p.relative_to(root)): (os.readlink(p).encode() if p.is_symlink() else p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file() or p.is_symlink()
    }


def final_files(tree: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in tree.items() if not k.startswith(".scribblesim")}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("coco") / "out"
    result = run_cli("build", "coco", "--seeds", "1", "2", "--out", str(out), "--jobs", "1")
    assert result.exit_code == 0, result.output
    return out


def test_layout(built: Path) -> None:
    ids = (built / "ImageSets/SegmentationAug/train.txt").read_text().split()
    assert len(ids) == LISTED and ids == sorted(ids) and UNANNOTATED not in ids
    assert not (built / "ImageSets/SegmentationAug/train2017.txt").exists()
    for name in ids:
        assert (built / "JPEGImages" / f"{name}.jpg").is_symlink()
        for folder in ("SegmentationClassAug", "coco2017_train_scribble_r1", "coco2017_train_scribble_r2"):
            with Image.open(built / folder / f"{name}.png") as image:
                assert image.mode == "L"
    meta = json.loads((built / "meta.json").read_text())
    assert meta["classes"][0] == "background" and len(meta["classes"]) == 81
    assert meta["seeds"] == [1, 2] and meta["prefix"] == "coco2017_train" and meta["label_png"] == "gray"
    split = meta["splits"]["train2017"]
    assert split["images"] == LISTED and split["list_file"] == "train.txt"
    assert split["images_left_out"] == 1 and split["images_skipped"] == 0 and split["keep_empty"] is False
    assert split["left_out_images"] == [{"image": UNANNOTATED, "reason": "no annotations"}]
    assert split["skipped_images"] == []
    assert not list(built.rglob(f"{UNANNOTATED}*")), "a left-out image got files"
    for seed in (1, 2):
        records = [json.loads(line) for line in (built / f"strokes_r{seed}.jsonl").read_text().splitlines()]
        assert [r["image"] for r in records] == ids
        assert sum(len(r["strokes"]) for r in records) == sum(
            meta["splits"]["train2017"]["strokes"][str(seed)].values()
        )


def test_scribbles_match_ground_truth(built: Path) -> None:
    for png in (built / "coco2017_train_scribble_r1").glob("*.png"):
        scribble = np.asarray(Image.open(png))
        truth = np.asarray(Image.open(built / "SegmentationClassAug" / png.name))
        labelled = scribble != 255
        assert np.array_equal(scribble[labelled], truth[labelled]), png.name


def test_seeds_differ(built: Path) -> None:
    differ = sum(
        not np.array_equal(
            np.asarray(Image.open(p)), np.asarray(Image.open(built / "coco2017_train_scribble_r2" / p.name))
        )
        for p in (built / "coco2017_train_scribble_r1").glob("*.png")
    )
    assert differ >= 0.8 * LISTED


def test_two_jobs_byte_identical(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = run_cli("build", "coco", "--seeds", "1", "2", "--out", str(out), "--jobs", "2")
    assert result.exit_code == 0, result.output
    assert final_files(tree_bytes(out)) == final_files(tree_bytes(built))


def test_relative_out_from_another_directory_in_one_process(
    built: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the worker pool outlives a build: its workers must resolve relative paths where the caller is
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        monkeypatch.chdir(tmp_path / name)
        result = run_cli("build", "coco", "--seeds", "1", "2", "--out", "rel", "--jobs", "2")
        assert result.exit_code == 0, result.output
        ours, reference = tree_bytes(tmp_path / name / "rel"), tree_bytes(built)
        labels = [k for k in reference if k.endswith(".png") or k.endswith(".jsonl")]  # links depend on where OUT is
        assert len(labels) > 90 and all(ours[k] == reference[k] for k in labels)


def test_rerun_is_noop(built: Path) -> None:
    before = {p: p.lstat().st_mtime_ns for p in built.rglob("*")}
    result = run_cli("build", "coco", "--seeds", "1", "2", "--out", str(built), "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "(0 simulated)" in result.output
    assert {p: p.lstat().st_mtime_ns for p in built.rglob("*")} == before


def test_empty_file_from_a_power_loss_is_redone(built: Path, tmp_path: Path) -> None:
    """Per-image files skip the fsync; a rerun redoes one that a crash left empty."""
    out = tmp_path / "out"
    run_cli("build", "coco", "--seeds", "1", "--out", str(out), "--jobs", "1")
    png = sorted((out / "coco2017_train_scribble_r1").glob("*.png"))[0]
    expected = png.read_bytes()
    png.write_bytes(b"")
    result = run_cli("build", "coco", "--seeds", "1", "--out", str(out), "--jobs", "1")
    assert result.exit_code == 0, result.output
    assert "(1 simulated)" in result.output
    assert png.read_bytes() == expected


def test_summary_line(built: Path) -> None:
    result = run_cli("build", "coco", "--seeds", "1", "2", "--out", str(built), "--jobs", "1")
    line = result.stdout.strip().splitlines()[-1]
    assert f"{LISTED} images x 2 seeds" in line and "strokes" in line and "skipped objects" in line
    assert "left-out images: 1 (no annotations 1; --keep-empty keeps them)" in line


def test_killed_build_resumes_to_identical_output(built: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "scribblesim",
        "build",
        "coco",
        "--seeds",
        "1",
        "2",
        "--out",
        str(out),
        "--jobs",
        "1",
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scribbles = out / "coco2017_train_scribble_r2"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(scribbles.glob("*.png"))) < 5:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(list(scribbles.glob("*.png"))) < LISTED, "build finished before it was killed"
    for png in out.rglob("*.png"):  # whatever is under a final name is complete
        Image.open(png).load()
    subprocess.run(command, check=True, capture_output=True)
    assert final_files(tree_bytes(out)) == final_files(tree_bytes(built))
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_missing_image_is_a_recorded_skip(tmp_path: Path) -> None:
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    source = coco_sample_root()
    data = json.loads((source / "annotations/instances_train2017.json").read_text())
    data["images"] = data["images"][:3]
    (root / "annotations/instances_val.json").write_text(json.dumps(data))
    (root / "val").mkdir()
    for image in data["images"][1:]:
        (root / "val" / image["file_name"]).symlink_to(source / "train2017" / image["file_name"])
    result = run_cli(
        "build", "coco", "--root", str(root), "--split", "val", "--out", str(tmp_path / "out"), "--jobs", "1"
    )
    assert result.exit_code == 0, result.output
    missing = Path(data["images"][0]["file_name"]).stem
    assert f"warning: skipped image {missing}" in result.stderr
    meta = json.loads((tmp_path / "out/meta.json").read_text())
    assert meta["splits"]["val"]["skipped_images"][0]["image"] == missing
    assert meta["splits"]["val"]["images"] == 2


def _coco_root(tmp_path: Path, annotations: str | None) -> Path:
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "val").mkdir()
    if annotations is not None:
        (root / "annotations/instances_val.json").write_text(annotations)
    return root


@pytest.mark.parametrize(
    "annotations, message",
    [
        (None, "annotation file not found"),
        ("{not json", "not valid JSON"),
        ('{"images": []}', "missing the 'annotations' list"),
        ('{"images": [], "annotations": "oops", "categories": []}', "got `str` - at `$.annotations`"),
        (
            '{"images": [], "categories": [], "annotations": [{"id": 1, "category_id": 1, "segmentation": []}]}',
            "missing required field `image_id` - at `$.annotations[0]`",
        ),
        (
            '{"images": [{"id": 1, "file_name": "a.jpg", "height": 4, "width": 4}], "categories": [{"id": 1, "name": "x"}],'
            ' "annotations": [{"id": 1, "image_id": 1, "category_id": 7, "segmentation": [[0,0,3,0,3,3]], "iscrowd": 0}]}',
            "unknown category ids [7]",
        ),
    ],
)
def test_bad_annotations_give_one_line_error(tmp_path: Path, annotations, message) -> None:
    root = _coco_root(tmp_path, annotations)
    result = run_cli("build", "coco", "--root", str(root), "--split", "val", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]
    assert "instances_val.json" in lines[0]


def test_missing_root_and_bad_arguments(tmp_path: Path) -> None:
    result = run_cli("build", "coco", "--root", str(tmp_path / "nowhere"), "--split", "val")
    assert result.exit_code == 2 and "nowhere: COCO root not found" in result.stderr
    result = run_cli("build", "coco", "--seeds", "-3", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "--seeds" in result.stderr
    result = run_cli("build", "coco", "--width", "0", "--out", str(tmp_path / "o"))
    assert result.exit_code == 2 and "width" in result.stderr


def test_dask_local_cluster_matches_loky(built: Path, tmp_path: Path) -> None:
    with LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None
    ) as cluster:
        out = tmp_path / "out"
        result = run_cli(
            "build", "coco", "--seeds", "1", "2", "--out", str(out), "--scheduler", cluster.scheduler_address
        )
        assert result.exit_code == 0, result.output
    assert final_files(tree_bytes(out)) == final_files(tree_bytes(built))


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int = 2):
    """A real ``dask scheduler`` and ``workers`` ``dask worker`` processes on 127.0.0.1, each in a folder of
    its own (as on other machines); yields the scheduler's address once every worker has joined."""
    from dask.distributed import Client

    folder.mkdir()
    started = []
    dask = [sys.executable, "-m", "dask"]
    try:
        scheduler_file = folder / "scheduler.json"
        started.append(
            subprocess.Popen(
                [*dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
                + ["--scheduler-file", str(scheduler_file)],
                cwd=folder,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        for k in range(workers):
            home = folder / f"worker{k}"
            home.mkdir()
            started.append(
                subprocess.Popen(
                    [*dask, "worker", "--scheduler-file", str(scheduler_file), "--nthreads", "1", "--no-dashboard"]
                    + ["--local-directory", str(home)],
                    cwd=home,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        with Client(scheduler_file=str(scheduler_file), timeout=30) as client:
            client.wait_for_workers(workers, timeout=30)
            address = client.scheduler.address
        yield address, started[1:]
    finally:
        for process in reversed(started):
            process.terminate()
        for process in started:
            process.wait(timeout=30)


def test_a_real_dask_cluster_builds_what_one_job_builds(built: Path, tmp_path: Path, monkeypatch) -> None:
    """Scheduler and workers as separate processes in their own working directories: byte-identical
    output with --scheduler, with DASK_SCHEDULER_ADDRESS alone, and when a worker dies mid-build."""
    with dask_cluster(tmp_path / "cluster") as (address, workers):
        out = tmp_path / "out"
        result = run_cli("build", "coco", "--seeds", "1", "2", "--out", str(out), "--scheduler", address)
        assert result.exit_code == 0, result.output
        assert final_files(tree_bytes(out)) == final_files(tree_bytes(built))
        monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", address)
        out = tmp_path / "env"
        result = run_cli("build", "coco", "--seeds", "1", "2", "--out", str(out))
        assert result.exit_code == 0, result.output
        assert final_files(tree_bytes(out)) == final_files(tree_bytes(built))
        # a worker lost mid-build (SIGKILL, as a node that dies): its tasks run again elsewhere
        out = tmp_path / "lost"
        command = [sys.executable, "-m", "scribblesim", "build", "coco", "--seeds", "1", "2", "--out", str(out)]
        build = subprocess.Popen([*command, "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        while build.poll() is None and len(list(out.glob("*_scribble_r1/*.png"))) < 3:
            time.sleep(0.02)
        assert build.poll() is None  # mid-build
        node = psutil.Process(workers[0].pid)
        for process in [*node.children(recursive=True), node]:  # the nanny, its worker and helpers
            process.kill()
        _, stderr = build.communicate(timeout=120)
        assert build.returncode == 0, stderr
        assert final_files(tree_bytes(out)) == final_files(tree_bytes(built))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
@pytest.mark.parametrize("backend", ["multiprocessing", "loky"])
def test_no_worker_outlives_a_parent_killed_with_sigkill(tmp_path: Path, backend: str) -> None:
    command = [
        sys.executable,
        "-m",
        "scribblesim",
        "build",
        "coco",
        "--seeds",
        "1",
        "2",
        "3",
        "--out",
        str(tmp_path / "out"),
        "--jobs",
        "2",
        "--backend",
        backend,
        "--no-progress",
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    parent = psutil.Process(process.pid)

    def is_worker(child: psutil.Process) -> bool:  # loky starts its own; multiprocessing forks the build
        line = child.cmdline()
        return "LokyProcess" in " ".join(line) if backend == "loky" else line == parent.cmdline()

    deadline = time.monotonic() + 60
    workers = []
    while time.monotonic() < deadline and len(workers) < 2 and process.poll() is None:
        try:
            workers = [c for c in parent.children(recursive=True) if is_worker(c)]
        except psutil.Error:  # a child that ended while we looked
            continue
        time.sleep(0.05)
    assert len(workers) == 2, "the build ended before its workers were seen"
    process.send_signal(signal.SIGKILL)
    process.wait()
    gone, alive = psutil.wait_procs(workers, timeout=10)
    assert not alive, f"workers outlived their parent: {[p.pid for p in alive]}"

"""scribblesim build on bad records, bad images, reruns, interruptions (issue 12), on real files."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from dataset_fixtures import coco_images, write_folder
from PIL import Image

from scribblesim.analysis.objects import object_source
from scribblesim.cli.failures import OneLineErrors
from scribblesim.cli.main import main
from scribblesim.datasets.coco import coco_samples
from scribblesim.datasets.sample import COCO_SAMPLE_SPLIT, coco_sample_root
from scribblesim.engine.config import SimConfig
from scribblesim.sets.build import BuildSpec, build

IDS = [30, 72, 73]  # sample images with two polygon annotations each
NAMES = [f"{i:012d}" for i in IDS]


def run_cli(*args) -> click.testing.Result:
    return CliRunner().invoke(main, [*map(str, args), "--no-progress", "--jobs", "1"], catch_exceptions=True)


def coco_root(tmp_path: Path, edit=None) -> Path:
    """A COCO root with split ``val`` holding the sample images ``IDS``; ``edit(data)`` changes the JSON."""
    source = coco_sample_root()
    data = json.loads((source / "annotations" / f"instances_{COCO_SAMPLE_SPLIT}.json").read_text())
    data["images"] = [i for i in data["images"] if i["id"] in IDS]
    data["annotations"] = [a for a in data["annotations"] if a["image_id"] in IDS]
    root = tmp_path / "coco"
    (root / "annotations").mkdir(parents=True)
    (root / "val").mkdir()
    for image in data["images"]:
        shutil.copyfile(source / COCO_SAMPLE_SPLIT / image["file_name"], root / "val" / image["file_name"])
    if edit is not None:
        edit(data)
    (root / "annotations" / "instances_val.json").write_text(json.dumps(data))
    return root


def build_val(root: Path, out: Path, *args) -> click.testing.Result:
    return run_cli("build", "coco", "--root", root, "--split", "val", "--out", out, *args)


def meta(out: Path) -> dict:
    return json.loads((out / "meta.json").read_text())


def first_annotation(data: dict) -> dict:
    return next(a for a in data["annotations"] if a["image_id"] == IDS[0])


def _set(key, value, where=lambda d: d["images"][0]):
    def edit(data):
        if value is KeyError:
            del where(data)[key]
        else:
            where(data)[key] = value

    return edit


BAD_RECORDS = {
    "no height": (_set("height", KeyError), "image record without 'height'"),
    "no file_name": (_set("file_name", KeyError), "image record without 'file_name'"),
    "height forty": (_set("height", "forty"), "'height' 'forty' is not a positive integer"),
    "height 0": (_set("height", 0), "'height' 0 is not a positive integer"),
    "no segmentation": (_set("segmentation", KeyError, first_annotation), "annotation without 'segmentation'"),
    "segmentation oops": (_set("segmentation", "oops", first_annotation), "segmentation is 'oops', not polygons"),
    "NaN coordinate": (
        _set("segmentation", [[10, 10, float("nan"), 10, 10, 50]], first_annotation),
        "polygon is not a list of finite numbers",
    ),
    "empty polygon": (_set("segmentation", [[]], first_annotation), "polygon with 0 coordinates"),
    "2-point polygon": (_set("segmentation", [[10, 10, 50, 50]], first_annotation), "polygon with 4 coordinates"),
    "RLE of another size": (
        _set("segmentation", {"size": [10, 10], "counts": [100]}, first_annotation),
        "RLE size [10, 10] is not the image's [428, 640]",
    ),
    "RLE counts short": (
        _set("segmentation", {"size": [428, 640], "counts": [5, 10]}, first_annotation),
        "RLE counts cover 15 pixels",
    ),
    "polygon reaching 1e9": (
        _set("segmentation", [[10, 10, 1e9, 10, 10, 50]], first_annotation),
        "polygon reaches far outside the image",
    ),
}


@pytest.mark.parametrize("case", BAD_RECORDS)
def test_bad_record_skips_its_image(tmp_path: Path, case: str) -> None:
    edit, reason = BAD_RECORDS[case]
    out = tmp_path / "out"
    result = build_val(coco_root(tmp_path, edit), out)
    assert result.exit_code == 0, result.output
    name = str(IDS[0]) if case == "no file_name" else NAMES[0]
    assert result.stderr.splitlines() == [result.stderr.splitlines()[0]]
    assert result.stderr.startswith(f"warning: skipped image {name}: ") and reason in result.stderr
    split = meta(out)["splits"]["val"]
    assert split["images"] == 2 and split["images_skipped"] == 1
    assert split["skipped_images"][0]["image"] == name and reason in split["skipped_images"][0]["reason"]
    assert not list(out.rglob(f"{NAMES[0]}*")), "a skipped image got files"


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            _set("name", KeyError, lambda d: d["categories"][0]),
            "every category needs an integer 'id' and a string 'name'",
        ),
        (_set("id", KeyError), "malformed COCO record"),
    ],
)
def test_broken_file_is_one_error(tmp_path: Path, edit, message) -> None:
    out = tmp_path / "out"
    result = build_val(coco_root(tmp_path, edit), out)
    assert result.exit_code == 2 and result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.splitlines()) == 1 and not out.exists()


def test_annotations_naming_no_image_are_recorded(tmp_path: Path) -> None:
    def edit(data):
        orphan = first_annotation(data)
        data["annotations"] += [{**orphan, "id": 9001, "image_id": 999}, {**orphan, "id": 9002, "image_id": 998}]

    out = tmp_path / "out"
    result = build_val(coco_root(tmp_path, edit), out)
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines() == [
        "warning: 2 annotations name no image of instances_val.json (e.g. annotation 9001: image 999); recorded in meta.json"
    ]
    assert meta(out)["splits"]["val"]["orphan_annotations"] == {
        "count": 2,
        "examples": [{"annotation": 9001, "image_id": 999}, {"annotation": 9002, "image_id": 998}],
    }


def test_polygon_outside_the_image_says_why(tmp_path: Path) -> None:
    def edit(data):
        far = [[-1e9, -1e9, -1e9 + 9, -1e9, -1e9, -1e9 + 9]]
        data["annotations"].append({**first_annotation(data), "id": 9001, "segmentation": far})

    out = tmp_path / "out"
    assert build_val(coco_root(tmp_path, edit), out).exit_code == 0
    record = next(
        json.loads(line)
        for line in (out / "strokes_r1.jsonl").read_text().splitlines()
        if json.loads(line)["image"] == NAMES[0]
    )
    assert {"instance": 2, "kind": "empty mask", "reason": "empty mask: polygon lies outside the image"} in record[
        "skipped"
    ]
    assert meta(out)["splits"]["val"]["skipped_objects"]["1"]["empty mask"] == 1  # counted by kind; the record says why


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


BAD_IMAGES = {
    "zero bytes": (lambda p: p.write_bytes(b""), "empty file"),
    "not an image": (lambda p: p.write_text("hello"), "not an image file"),
    "truncated": (_truncate, "truncated JPEG"),
    "cut in the header": (lambda p: p.write_bytes(p.read_bytes()[:100]), "unreadable image"),
    "other size": (
        lambda p: Image.new("RGB", (64, 48)).save(p, format="JPEG"),
        "image is 64 x 48, its annotations 640 x 428",
    ),
}


@pytest.mark.parametrize("case", BAD_IMAGES)
def test_bad_image_file_is_skipped(tmp_path: Path, case: str) -> None:
    damage, reason = BAD_IMAGES[case]
    root = coco_root(tmp_path)
    damage(root / "val" / f"{NAMES[0]}.jpg")
    out = tmp_path / "out"
    result = build_val(root, out)
    assert result.exit_code == 0, result.output
    assert len(result.stderr.splitlines()) == 1 and reason in result.stderr
    assert result.stderr.startswith(f"warning: skipped image {NAMES[0]}: {root / 'val' / NAMES[0]}.jpg: ")
    split = meta(out)["splits"]["val"]
    assert split["images"] == 2 and reason in split["skipped_images"][0]["reason"]
    assert not list(out.rglob(f"{NAMES[0]}*")), "a skipped image got files"


def test_every_image_skipped_fails(tmp_path: Path) -> None:
    root = coco_root(tmp_path)
    for path in (root / "val").iterdir():
        path.write_bytes(b"")
    out = tmp_path / "out"
    result = build_val(root, out)
    assert result.exit_code == 2
    assert (
        result.stderr.splitlines()[-1] == f"error: {out}: no image built (3 skipped, 0 left out; reasons in meta.json)"
    )
    assert meta(out)["splits"]["val"]["images_skipped"] == 3


def test_rerun_with_other_options_refused_then_overwritten(tmp_path: Path) -> None:
    root, out = coco_root(tmp_path), tmp_path / "out"
    assert build_val(root, out).exit_code == 0
    scribble = out / "coco_val_scribble_r1" / f"{NAMES[0]}.png"
    before, meta_before = scribble.read_bytes(), meta(out)
    result = build_val(root, out, "--width", 5, "--no-background")
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        f"error: {out}: built with --width 2 (not 5), background True (not False); rerun with "
        "those, build into another --out, or pass --overwrite to start over\n"
    )
    assert meta(out) == meta_before and scribble.read_bytes() == before
    (out / "coco_val_scribble_r1_shrink0.5").mkdir()  # a set derived from the old scribbles
    result = build_val(root, out, "--width", 5, "--overwrite")
    assert result.exit_code == 0, result.output
    assert "3 images x 1 seeds (3 simulated)" in result.stdout
    assert meta(out)["config"]["width"] == 5 and scribble.read_bytes() != before
    assert not (out / "coco_val_scribble_r1_shrink0.5").exists()
    assert "(0 simulated)" in build_val(root, out, "--width", 5).stdout


def test_killed_first_build_still_refuses_other_options(tmp_path: Path) -> None:
    """meta.json is written before the first image, so a killed build knows its options."""
    out = tmp_path / "out"
    seen = []

    def samples():
        seen.append(meta(out))
        yield from coco_samples(coco_root(tmp_path), "val")

    spec = BuildSpec(out, "val", "coco_val", (1,), SimConfig(width=3))
    build(samples(), spec, dataset="coco", class_names=["background"] * 81, jobs=1, progress=False)
    assert seen[0]["config"]["width"] == 3 and seen[0]["splits"] == {} and seen[0]["seeds"] == []


def test_an_output_that_does_not_fit_is_a_layout_error(tmp_path: Path) -> None:
    from scribblesim.errors import LayoutError
    from scribblesim.sets.build import check_rerun
    from scribblesim.sets.layout import meta_record, write_meta

    out = tmp_path / "out"
    out.mkdir()
    spec = BuildSpec(out, "train2017", "coco2017_train", (1,), SimConfig(width=3))
    record = meta_record(
        dataset="coco",
        prefix=spec.prefix,
        classes=["background"],
        label_png=spec.label_png,
        seeds=[1],
        splits={"train2017": {"list_file": "train.txt", "keep_empty": False}},
        config=spec.config.to_dict(),
    )
    write_meta(out, record)
    check_rerun(spec, "coco", ["background"])  # the same options fit
    with pytest.raises(LayoutError, match=r": built with --width 3 \(not 4\); rerun with those"):
        check_rerun(replace(spec, config=SimConfig(width=4)), "coco", ["background"])
    with pytest.raises(LayoutError, match=r": split 'train2017' already writes .*train\.txt"):
        check_rerun(replace(spec, split="train2014"), "coco", ["background"])


def test_other_dataset_into_the_same_out_refused(tmp_path: Path) -> None:
    root, out = coco_root(tmp_path), tmp_path / "out"
    assert build_val(root, out).exit_code == 0
    meta_before, strokes = meta(out), (out / "strokes_r1.jsonl").read_bytes()
    instances, images, table = write_folder(tmp_path / "folder", coco_images(2))
    result = run_cli("build", "folder", "--instances", instances, "--classes", table, "--images", images, "--out", out)
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1
    assert "built with dataset coco (not folder), other classes (81 names, not " in result.stderr
    assert meta(out) == meta_before and (out / "strokes_r1.jsonl").read_bytes() == strokes


def test_seed_counts_merge_across_builds(tmp_path: Path) -> None:
    root = coco_root(tmp_path)
    assert build_val(root, tmp_path / "both", "--seeds", 1, 2).exit_code == 0
    for seed in (1, 2):
        assert build_val(root, tmp_path / "one_by_one", "--seeds", seed).exit_code == 0
    both, one_by_one = meta(tmp_path / "both"), meta(tmp_path / "one_by_one")
    assert one_by_one["seeds"] == [1, 2]
    assert one_by_one["splits"] == both["splits"]
    assert set(both["splits"]["val"]["strokes"]) == {"1", "2"}


@pytest.mark.parametrize(
    ("signum", "to_group", "line"),
    [(signal.SIGINT, True, "error: interrupted\n"), (signal.SIGTERM, False, "error: terminated (SIGTERM)\n")],
    ids=["ctrl-c", "sigterm"],
)
def test_a_stop_exits_130_in_one_line_and_a_rerun_finishes_the_build(
    tmp_path: Path, signum: int, to_group: bool, line: str
) -> None:
    """Ctrl-C (to the whole process group, as a terminal sends it) or SIGTERM (to the command's
    process alone, as a batch scheduler sends it) mid-build. The last instance PNG is a FIFO
    that nobody writes, so the build blocks on it after the others: the signal comes
    mid-build however fast or busy the machine is (a build of plain files could end before
    the signal)."""
    instances, images, table = write_folder(tmp_path / "src", coco_images(5))
    blocking = sorted(instances.glob("*.png"))[-1]
    saved = blocking.read_bytes()
    blocking.unlink()
    os.mkfifo(blocking)
    out = tmp_path / "out"
    command = [sys.executable, "-X", "faulthandler", "-m", "scribblesim", "build", "folder"]
    command += ["--instances", str(instances), "--images", str(images), "--classes", str(table)]
    command += ["--seeds", "1", "--jobs", "2", "--no-progress"]
    process = subprocess.Popen(
        [*command, "--out", str(out)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(out.glob("*_scribble_r1/*.png"))) < 4:
        time.sleep(0.02)
    assert process.poll() is None and len(list(out.glob("*_scribble_r1/*.png"))) == 4  # waiting on the FIFO
    if to_group:
        os.killpg(process.pid, signum)
    else:
        os.kill(process.pid, signum)
    try:
        _, stderr = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # a hang: fail with where each thread and worker waits
        workers = _process_states(process.pid)
        process.send_signal(signal.SIGABRT)  # faulthandler prints every thread's stack
        _, stderr = process.communicate(timeout=30)
        os.killpg(process.pid, signal.SIGKILL)
        pytest.fail(f"the build hung after the signal; its workers: {workers}; its threads:\n{stderr}")
    assert process.returncode == 130 and stderr == line  # no traceback, no leaked-memory warning
    blocking.unlink()
    blocking.write_bytes(saved)
    for target in (out, tmp_path / "whole"):  # the rerun resumes; a build without a stop to compare
        done = subprocess.run([*command, "--out", str(target)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
    assert not list(out.rglob(".*.tmp"))  # a killed worker's temporary file is gone, no file half written
    for path in (tmp_path / "whole").rglob("*"):
        if path.is_file() and path.name != "meta.json":
            assert path.read_bytes() == (out / path.relative_to(tmp_path / "whole")).read_bytes(), path


def _process_states(parent: int) -> dict:
    """Each child process of ``parent``: its state, signal masks and where the kernel has it wait."""
    children = Path(f"/proc/{parent}/task/{parent}/children")
    states = {}
    for pid in children.read_text().split() if children.exists() else []:
        try:
            status = Path(f"/proc/{pid}/status").read_text().splitlines()
            wchan = Path(f"/proc/{pid}/wchan").read_text()
        except OSError:
            continue
        states[pid] = [line for line in status if line.startswith(("State", "SigBlk", "SigIgn", "SigCgt"))] + [wchan]
    return states


def test_whatever_a_library_raises_while_a_stop_is_pending_is_the_stop() -> None:
    """pycocotools' RLE decoding turns an interrupt inside it into a TypeError (its ``__array__``
    predates NumPy 2's ``copy`` keyword): that is still Ctrl-C, one line and status 130."""

    @click.group(cls=OneLineErrors)
    def cli() -> None:
        pass

    @cli.command()
    def decode() -> None:
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(5)
        except KeyboardInterrupt:
            raise TypeError("__array__() got an unexpected keyword argument 'copy'") from None

    @cli.command()
    def bug() -> None:
        raise TypeError("a bug")

    result = CliRunner().invoke(cli, ["decode"])
    assert result.exit_code == 130 and result.output == "error: interrupted\n"
    result = CliRunner().invoke(cli, ["bug"])  # without a stop, a bug stays a traceback
    assert isinstance(result.exception, TypeError)


def test_no_progress_bar_off_a_terminal(tmp_path: Path) -> None:
    """stderr is a pipe here: no bar frames in it, without --no-progress."""
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "scribblesim",
        "build",
        "coco",
        "--root",
        str(coco_root(tmp_path)),
        "--split",
        "val",
        "--out",
        str(out),
        "--jobs",
        "1",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""


def _commands(group: click.Group, path: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def test_dash_h_is_help_everywhere() -> None:
    paths = [(), *_commands(main)]
    assert ("build", "coco") in paths and ("import", "png") in paths and ("stats",) in paths
    for path in paths:
        short, long = (CliRunner().invoke(main, [*path, option]) for option in ("-h", "--help"))
        assert short.exit_code == 0 and short.output == long.output and "Usage:" in short.output, (path, short.output)


def test_moved_output_and_dataset_keep_working(tmp_path: Path) -> None:
    project = tmp_path / "project"
    root, out = coco_root(project), project / "out"
    assert build_val(root, out).exit_code == 0
    link = out / "JPEGImages" / f"{NAMES[0]}.jpg"
    assert os.readlink(link) == f"../../coco/val/{NAMES[0]}.jpg"
    assert meta(out)["source"] == {"root": "../coco", "split": "val"}
    moved = tmp_path / "moved"
    project.rename(moved)
    assert (moved / "out" / "JPEGImages" / f"{NAMES[0]}.jpg").read_bytes() == (
        moved / "coco/val" / f"{NAMES[0]}.jpg"
    ).read_bytes()
    objects = object_source(moved / "out")
    assert objects.kind == "dataset" and len(objects(NAMES[0]).classes) == 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_freed_arrays_are_reused_without_page_faults() -> None:
    """A build keeps freed memory: the next full-image array reuses its pages, and the kernel zeroes none."""
    script = """
import resource, numpy as np
from scribblesim.parallel import keep_freed_memory
assert keep_freed_memory()
np.ones(2**20)  # one 8 MB array, freed: its pages stay with the process
start = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    np.ones(2**20)
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - start)
"""
    faults = int(subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout)
    assert faults < 2**20 * 8 // 4096 // 10  # a tenth of one array's pages, for twenty arrays


def test_a_one_job_build_imports_only_what_it_runs(tmp_path: Path) -> None:
    """Start-up is part of every build (issues 22 and 31): scipy, scikit-image's morphology,
    joblib, matplotlib, networkx and tqdm (over a second of imports together) stay out of a
    one-job build whose output is not a terminal."""
    script = f"""
import sys
from scribblesim.cli.failures import OneLineErrors
from scribblesim.cli.main import main
main(["build", "coco", "--out", {str(tmp_path / "out")!r}, "--jobs", "1", "--no-progress"], standalone_mode=False)
heavy = ("scipy", "skimage.morphology", "joblib", "matplotlib", "networkx", "tqdm")
print("imported:", *[m for m in heavy if m in sys.modules])
"""
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert run.stdout.splitlines()[-1] == "imported:"
    assert (tmp_path / "out" / "meta.json").is_file()


def test_backend_choices_cover_joblibs() -> None:
    import joblib

    from scribblesim.parallel import JOBLIB_BACKENDS

    assert set(joblib.parallel.BACKENDS) <= set(JOBLIB_BACKENDS)


def test_two_jobs_after_opencv_ran_in_the_parent(tmp_path: Path) -> None:
    """Forked workers must not wait on the parent's OpenCV thread pool (they once hung forever)."""
    script = f"""
import cv2, numpy as np
from scribblesim.cli.failures import OneLineErrors
from scribblesim.cli.main import main
cv2.distanceTransform(np.ones((500, 500), np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)  # starts the pool
main(["build", "coco", "--out", {str(tmp_path / "out")!r}, "--jobs", "2", "--no-progress"], standalone_mode=False)
"""
    subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120)
    assert (tmp_path / "out" / "meta.json").is_file()


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="CPU affinity is Linux's")
def test_jobs_default_to_the_cores_this_process_may_use() -> None:
    """Under a CPU affinity limit (SLURM, taskset, a container) --jobs counts the cores allowed."""
    code = """
from scribblesim.cli.main import main
from scribblesim.parallel import _workers
(jobs,) = [p.default for p in main.commands["build"].commands["coco"].params if p.name == "jobs"]
print(jobs, _workers(-1))
"""
    one_core = min(os.sched_getaffinity(0))
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: os.sched_setaffinity(0, {one_core}),
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["1", "1"]


def test_a_rerun_skips_finished_images_by_listing_their_folders(tmp_path: Path) -> None:
    """A finished image is neither loaded nor checked by a worker again: its source may be gone."""
    root = coco_root(tmp_path)
    spec = BuildSpec(tmp_path / "out", "val", "coco_val", (1, 2), SimConfig())
    first = build(
        coco_samples(root, "val"), spec, dataset="coco", class_names=["background"] * 81, jobs=1, progress=False
    )
    samples = coco_samples(root, "val")
    shutil.rmtree(root / "val")  # the images are gone: only a per-image check would notice
    (tmp_path / "out" / "coco_val_scribble_r2" / f"{NAMES[0]}.png").unlink()  # one set of one image to redo
    with pytest.warns(UserWarning, match=f"skipped image {NAMES[0]}: .* image file not found"):
        again = build(samples, spec, dataset="coco", class_names=["background"] * 81, jobs=1, progress=False)
    assert first.images == 3 and again.images == 2 and again.computed == 0
    assert [name for name, _ in again.skipped_images] == [NAMES[0]]  # the unfinished one alone went to a worker

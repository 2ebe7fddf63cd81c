"""scribblesim build acdc on small synthetic volumes (WSL4MIS h5 and ACDC NIfTI), never on ACDC itself."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click
import numpy as np
import pytest
from click.testing import CliRunner
from dataset_fixtures import ACDC_FRAMES, ACDC_HEIGHT, ACDC_PATIENTS, ACDC_SLICES, ACDC_WIDTH, frame_arrays, h5_root
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from scribblesim.cli.main import main
from scribblesim.datasets.acdc import (
    CLASS_NAMES,
    AcdcSlice,
    AcdcVolume,
    read_acdc,
    split_slices,
    validation_count,
)
from scribblesim.datasets.base import class_components
from scribblesim.sets.layout import Layout, set_name

PREFIX = "acdc"


def run_cli(*args, jobs: int = 1) -> click.testing.Result:
    return CliRunner().invoke(main, [*map(str, args), "--no-progress", "--jobs", str(jobs)], catch_exceptions=True)


def nifti_volume(array: np.ndarray) -> np.ndarray:
    """(slices, y, x) as a NIfTI data array (x, y, slices): what SimpleITK's array order undoes."""
    return np.ascontiguousarray(np.transpose(array, (2, 1, 0)))


def write_nifti_patient(root: Path, patient: int, frames=ACDC_FRAMES, scribbles: bool = True) -> dict[str, dict]:
    """ACDC's layout for one patient: raw int16 image, _gt and _scribble volumes; returns the arrays."""
    nibabel = pytest.importorskip("nibabel")
    folder = root / f"patient{patient:03d}"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for frame in ACDC_FRAMES if frames is None else frames:
        stem = f"patient{patient:03d}_frame{frame:02d}"
        arrays = frame_arrays(patient, frame)
        raw = np.rint(arrays["image"] * 900 + 50).astype(np.int16)
        raw[1, 5, 5] = 5000  # an outlier the 99th-percentile clip removes
        parts = {"": raw, "_gt": arrays["label"]}
        if scribbles:
            parts["_scribble"] = arrays["scribble"].astype(np.uint8)
        for suffix, data in parts.items():
            nibabel.Nifti1Image(nifti_volume(data), np.eye(4)).to_filename(folder / f"{stem}{suffix}.nii.gz")
        written[stem] = {**arrays, "raw": raw}
    return written


def all_slices(patients=ACDC_PATIENTS) -> list[str]:
    return sorted(
        f"patient{p:03d}_frame{f:02d}_z{z:02d}" for p in patients for f in ACDC_FRAMES for z in range(ACDC_SLICES)
    )


def read(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image)


def listed(out: Path, split: str) -> list[str]:
    return (out / "ImageSets" / "SegmentationAug" / f"{split}.txt").read_text().split()


def patients_of(names) -> set[int]:
    return {int(name[7:10]) for name in names}


def tree_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """An h5 root and its build with seeds 1 and 2 (one job)."""
    tmp = tmp_path_factory.mktemp("acdc")
    root = h5_root(tmp)
    out = tmp / "out"
    result = run_cli("build", "acdc", "--root", root, "--out", out, "--seeds", "1", "2")
    assert result.exit_code == 0, result.output
    return root, out, result


def test_every_slice_is_an_image_with_its_ground_truth(built) -> None:
    root, out, result = built
    names = all_slices()
    assert sorted(listed(out, "train") + listed(out, "val")) == names
    for name in names:
        stem, z = name[:-4], int(name[-2:])
        arrays = frame_arrays(int(stem[7:10]), int(stem[-2:]))
        with Image.open(out / "JPEGImages" / f"{name}.png") as image:
            assert image.mode == "L"  # 8-bit, one channel
            assert np.array_equal(np.asarray(image), np.rint(arrays["image"][z] * 255).astype(np.uint8))
            rgb = np.asarray(image.convert("RGB"))  # what csptrain's reader makes of it
            assert rgb.shape == (ACDC_HEIGHT, ACDC_WIDTH, 3)
        assert np.array_equal(read(out / "SegmentationClassAug" / f"{name}.png"), arrays["label"][z])
    meta = json.loads((out / "meta.json").read_text())
    assert meta["dataset"] == "acdc" and meta["classes"] == CLASS_NAMES == ["background", "RV", "MYO", "LV"]
    assert meta["prefix"] == PREFIX and meta["seeds"] == [1, 2]
    assert meta["splits"]["train"]["images"] + meta["splits"]["val"]["images"] == len(names)
    assert meta["splits"]["val"]["acdc"]["human_set"] == "acdc_scribble_human"
    assert "(train)" in result.stdout and "(val)" in result.stdout and "human set:" in result.stdout


def test_split_is_nine_to_one_by_patient_and_seeded(built) -> None:
    _, out, _ = built
    train, val = listed(out, "train"), listed(out, "val")
    assert not patients_of(train) & patients_of(val)
    assert len(patients_of(val)) == validation_count(len(ACDC_PATIENTS)) == 1  # 6 - floor(54 / 10)
    order = np.random.default_rng(0).permutation(len(ACDC_PATIENTS))  # the documented rule, --split-seed 0
    assert patients_of(val) == {ACDC_PATIENTS[order[0]]}
    assert val == [n for n in all_slices() if int(n[7:10]) in patients_of(val)]
    meta = json.loads((out / "meta.json").read_text())
    assert meta["splits"]["val"]["acdc"]["patients"] == sorted(patients_of(val))
    assert meta["splits"]["train"]["acdc"]["split_by"] == "patient"


def test_human_set_is_the_source_scribbles(built) -> None:
    _, out, _ = built
    folder = out / f"{PREFIX}_scribble_human"
    records = {
        json.loads(line)["image"]: json.loads(line) for line in (out / "strokes_human.jsonl").read_text().splitlines()
    }
    for name in all_slices():
        arrays = frame_arrays(int(name[7:10]), int(name[16:18]))
        source = arrays["scribble"][int(name[-2:])]
        expected = np.where(source == 4, 255, source).astype(np.uint8)
        assert np.array_equal(read(folder / f"{name}.png"), expected)
        strokes = records[name]["strokes"]
        assert strokes and {s["style"] for s in strokes} == {"human"}
        assert {s["label"] for s in strokes} == {int(v) for v in np.unique(expected) if v != 255}


def test_simulated_scribbles_carry_their_ground_truth_class(built) -> None:
    _, out, _ = built
    for seed in (1, 2):
        records = [json.loads(line) for line in (out / f"strokes_r{seed}.jsonl").read_text().splitlines()]
        assert sorted(r["image"] for r in records) == all_slices()
        for record in records:
            name = record["image"]
            truth = read(out / "SegmentationClassAug" / f"{name}.png")
            scribble = read(out / f"{PREFIX}_scribble_r{seed}" / f"{name}.png")
            labelled = scribble != 255
            assert labelled.any(), f"{name}: no scribble at all"
            assert np.array_equal(scribble[labelled], truth[labelled])
            # every structure (component) gets a stroke or a recorded reason
            objects = {s["instance"] for s in record["strokes"] if s["instance"] is not None}
            objects |= {s["instance"] for s in record["skipped"] if s["instance"] is not None}
            assert objects == set(range(len(class_components(truth)[0])))
        empty = next(r for r in records if r["image"].endswith("_z00"))
        assert [s["style"] for s in empty["strokes"]] == ["background"]  # a slice without structures


def test_jobs_give_the_same_bytes_and_a_rerun_resumes(built, tmp_path) -> None:
    root, out, _ = built
    again = tmp_path / "out2"
    result = run_cli("build", "acdc", "--root", root, "--out", again, "--seeds", "1", "2", jobs=2)
    assert result.exit_code == 0, result.output
    assert tree_bytes(again) == tree_bytes(out)
    name = all_slices()[4]
    for path in (
        again / "JPEGImages" / f"{name}.png",
        again / f"{PREFIX}_scribble_human" / f"{name}.png",
        again / f"{PREFIX}_scribble_r2" / f"{name}.png",
        again / "SegmentationClassAug" / f"{name}.png",
    ):
        path.unlink()
    result = run_cli("build", "acdc", "--root", root, "--out", again, "--seeds", "1", "2")
    assert result.exit_code == 0, result.output
    assert "(1 simulated)" in result.stdout  # one slice of one seed, in its split's line
    assert tree_bytes(again) == tree_bytes(out)
    result = run_cli("build", "acdc", "--root", root, "--out", again, "--seeds", "1", "2")
    assert result.stdout.count("(0 simulated)") == 2 and tree_bytes(again) == tree_bytes(out)


def test_val_patients_and_split_by_slice(built, tmp_path) -> None:
    root, _, _ = built
    out = tmp_path / "named"
    result = run_cli("build", "acdc", "--root", root, "--out", out, "--val-patients", "2,patient005", "--no-background")
    assert result.exit_code == 0, result.output
    assert listed(out, "val") == all_slices((2, 5))
    assert listed(out, "train") == all_slices((1, 3, 4, 6))
    meta = json.loads((out / "meta.json").read_text())
    assert meta["splits"]["val"]["acdc"]["split_seed"] is None
    out = tmp_path / "slices"
    result = run_cli("build", "acdc", "--root", root, "--out", out, "--split-by", "slice", "--split-seed", "3")
    assert result.exit_code == 0, result.output
    names = all_slices()
    order = np.random.default_rng(3).permutation(len(names))
    assert listed(out, "val") == sorted(names[i] for i in order[: math.ceil(len(names) / 10)])
    assert sorted(listed(out, "train") + listed(out, "val")) == names


def test_readers_take_the_human_set_by_name(built, tmp_path) -> None:
    _, out, _ = built
    result = CliRunner().invoke(main, ["stats", str(out), "--seed", "human", "--out", str(tmp_path / "s")])
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["objects"] > 0
    result = CliRunner().invoke(
        main, ["stats", str(out), "--seed", "1", "--compare-seed", "human", "--out", str(tmp_path / "c")]
    )
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(
        main, ["preview", str(out), "--seeds", "1", "human", "-n", "2", "--out", str(tmp_path / "p")]
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "p" / "contact_sheet.png").is_file()
    copy = tmp_path / "copy"
    copy.mkdir()
    for path in out.iterdir():  # degrade writes beside the set: work on a copy of the module's build
        (copy / path.name).symlink_to(path.resolve())
    (copy / "meta.json").unlink()
    (copy / "meta.json").write_bytes((out / "meta.json").read_bytes())
    result = CliRunner().invoke(main, ["degrade", str(copy), "--seed", "human", "--shrink", "0.5"])
    assert result.exit_code == 0, result.output
    assert (copy / "acdc_scribble_human_shrink0.5").is_dir() and (copy / "strokes_human_shrink0.5.jsonl").is_file()


def test_named_sets_are_spelt_without_r() -> None:
    layout = Layout(Path("OUT"))
    assert layout.scribble_dir("acdc", "human").name == "acdc_scribble_human"
    assert layout.scribble_dir("acdc", 1).name == "acdc_scribble_r1"
    assert layout.strokes("human_shrink0.5").name == "strokes_human_shrink0.5.jsonl"
    assert set_name("1_shrink0.5") == "r1_shrink0.5" and set_name("humane") == "rhumane"


def test_nifti_layout(tmp_path) -> None:
    root = tmp_path / "nifti"
    written = {}
    for patient in (1, 2):
        written.update(write_nifti_patient(root / "training", patient))
    out = tmp_path / "out"
    result = run_cli("build", "acdc", "--root", root, "--out", out, "--val-patients", "2")
    assert result.exit_code == 0, result.output
    assert listed(out, "val") == all_slices((2,)) and listed(out, "train") == all_slices((1,))
    for stem, arrays in written.items():
        raw = arrays["raw"].astype(np.float64)
        clipped = np.clip(raw, raw.min(), np.quantile(raw, 0.99, method="inverted_cdf"))
        scaled = np.rint((clipped - clipped.min()) / (clipped.max() - clipped.min()) * 255).astype(np.uint8)
        for z in range(ACDC_SLICES):
            name = f"{stem}_z{z:02d}"
            assert np.array_equal(read(out / "JPEGImages" / f"{name}.png"), scaled[z])
            assert np.array_equal(read(out / "SegmentationClassAug" / f"{name}.png"), arrays["label"][z])
            human = read(out / f"{PREFIX}_scribble_human" / f"{name}.png")
            assert np.array_equal(human, np.where(arrays["scribble"][z] == 4, 255, arrays["scribble"][z]))
    assert json.loads((out / "meta.json").read_text())["splits"]["train"]["acdc"]["volume_layouts"] == ["nifti"]


def test_h5_and_nifti_frames_read_alike(tmp_path) -> None:
    """A root may hold both layouts (the shared h5 volumes and other patients' NIfTI files)."""
    root = h5_root(tmp_path, patients=(1, 2))
    write_nifti_patient(root, 3)
    data = read_acdc(root)
    assert data.layouts == ["h5", "nifti"] and data.patients == [1, 2, 3] and data.human
    nifti = next(s for s in data.slices if s.patient == 3 and s.index == 1).load()
    h5 = next(s for s in data.slices if s.patient == 1 and s.index == 1).load()
    assert nifti.semantic.shape == h5.semantic.shape == nifti.pixels.shape == (ACDC_HEIGHT, ACDC_WIDTH)
    assert list(nifti.classes) == [1, 2, 3] and nifti.masks.shape == (3, ACDC_HEIGHT, ACDC_WIDTH)
    write_nifti_patient(root, 1, frames=(1,))  # a frame in both layouts
    with pytest.raises(Exception, match="frame patient001_frame01 is also"):
        read_acdc(root)


def test_nifti_needs_the_medical_extra(tmp_path, monkeypatch) -> None:
    root = tmp_path / "nifti"
    write_nifti_patient(root, 1)
    monkeypatch.setitem(sys.modules, "nibabel", None)  # as if it were not installed
    result = run_cli("build", "acdc", "--root", root, "--out", tmp_path / "out")
    assert result.exit_code == 2
    assert result.stderr == "error: reading NIfTI volumes needs nibabel: pip install 'scribblesim[medical]'\n"


def _drop(key):
    def edit(stem, arrays):
        if stem == "patient002_frame12":
            del arrays[key]

    return edit


def _shrink_scribble(stem, arrays):
    if stem == "patient003_frame01":
        arrays["scribble"] = arrays["scribble"][:, :, :-1]


@pytest.mark.parametrize(
    ("setup", "args", "message"),
    [
        (lambda tmp: tmp / "nowhere", [], "ScribbleACDC root not found"),
        (lambda tmp: tmp, [], "no volumes (expected ACDC_training_volumes/patientNNN_frameFF.h5"),
        (lambda tmp: h5_root(tmp, edit=_drop("label")), [], "patient002_frame12.h5: no 'label' dataset"),
        (lambda tmp: h5_root(tmp, edit=_shrink_scribble), [], "'scribble' has shape (3, 40, 47), 'image' (3, 40, 48)"),
        (lambda tmp: h5_root(tmp, edit=_drop("scribble")), [], "no scribbles, where 11 of 12 volumes have them"),
        (lambda tmp: h5_root(tmp), ["--val-patients", "2,x"], "--val-patients: not a patient number: 'x'"),
        (lambda tmp: h5_root(tmp), ["--val-patients", "9"], "--val-patients: no patient 9 in the root"),
        (lambda tmp: h5_root(tmp), ["--val-patients", "1,2,3,4,5,6"], "leaves the training split empty"),
        (lambda tmp: h5_root(tmp), ["--val-patients", "1", "--split-by", "slice"], "only with --split-by patient"),
        (lambda tmp: h5_root(tmp, patients=(1,)), [], "a 9:1 split of 1 patient leaves the training split empty"),
    ],
)
def test_bad_input_is_one_line(tmp_path, setup, args, message) -> None:
    root = setup(tmp_path)
    if root == tmp_path:
        (root / "ACDC_training_volumes").mkdir()
    result = run_cli("build", "acdc", "--root", root, "--out", tmp_path / "out", *args)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
    assert message in result.stderr


def test_a_slice_with_a_foreign_label_is_skipped_with_its_reason(tmp_path) -> None:
    def edit(stem, arrays):
        if stem == "patient001_frame01":
            arrays["label"][2, 0, 0] = 7

    root = h5_root(tmp_path, edit=edit)
    out = tmp_path / "out"
    result = run_cli("build", "acdc", "--root", root, "--out", out, "--val-patients", "6")
    assert result.exit_code == 0, result.output
    assert "warning: skipped image patient001_frame01_z02" in result.stderr
    assert "label value 7 in slice 2 is not one of 0..3" in result.stderr
    assert "patient001_frame01_z02" not in listed(out, "train")
    skipped = json.loads((out / "meta.json").read_text())["splits"]["train"]["skipped_images"]
    assert [s["image"] for s in skipped] == ["patient001_frame01_z02"]


def _slices(patients: list[int], per_patient: int) -> list[AcdcSlice]:
    slices = []
    for patient in patients:
        volume = AcdcVolume(f"patient{patient:03d}_frame01", patient, "h5", Path("v"), Path("v"), None, per_patient, ())
        slices += [AcdcSlice(f"{volume.stem}_z{z:02d}", volume, z) for z in range(per_patient)]
    return slices


@settings(max_examples=60, deadline=None)
@given(
    patients=st.lists(st.integers(1, 150), min_size=2, max_size=40, unique=True),
    per_patient=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    by=st.sampled_from(["patient", "slice"]),
)
def test_split_rule(patients, per_patient, seed, by) -> None:
    slices = _slices(patients, per_patient)
    split = split_slices(slices, by=by, seed=seed)
    assert split == split_slices(list(reversed(slices)), by=by, seed=seed)  # seeded, not order-dependent
    train, val = ({s.name for s in split[k]} for k in ("train", "val"))
    assert not train & val and train | val == {s.name for s in slices}
    if by == "patient":
        val_patients = {s.patient for s in split["val"]}
        assert not val_patients & {s.patient for s in split["train"]}
        assert len(val_patients) == math.ceil(len(patients) / 10)
    else:
        assert len(val) == math.ceil(len(slices) / 10)


def test_h5py_and_nibabel_load_only_for_an_acdc_build() -> None:
    import subprocess

    code = (
        "import sys, scribblesim, scribblesim.cli.main, scribblesim.sets.build, scribblesim.analysis.objects;"
        "print(sorted(m for m in ('h5py', 'nibabel', 'torch') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"

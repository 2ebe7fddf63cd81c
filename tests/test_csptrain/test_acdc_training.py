"""csptrain on ScribbleACDC-shaped data: the UNet, output stride 16, the acdc preset, the learning benchmark."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from dataset_fixtures import h5_root
from lab import budget, learning, repeats
from lab.ablation import TABLE_VI, format_ablation, parse_lines, summarise
from lab.budget import budget_config
from lab.learning import CURVE
from lab.rows import row_source
from lab.volumes import volume_dice

from csptrain.cli import main as csptrain_main
from csptrain.data.layout import Layout, read_split, scribble_folder
from csptrain.errors import ConfigError, DataError
from csptrain.metrics import dice_scores
from csptrain.metrics import volume_dice as metrics_volume_dice
from csptrain.models.deeplabv3plus import deeplabv3plus
from csptrain.models.stage2 import Stage2Model
from csptrain.models.unet import LEVEL_CHANNELS, unet
from csptrain.runs import PseudoLabelFolder
from csptrain.runtime.schedule import lr_at, warmup_steps_for
from csptrain.stage1.config import make_stage1_config
from csptrain.stage1.pseudo import score_pseudo_labels
from csptrain.stage2.config import make_stage2_config
from csptrain.stage2.train import build_stage2, load_stage2_model, stage2_schedule
from scribblesim.cli.main import main as scribblesim_main
from scribblesim.datasets.acdc import volume_of as slice_volume
from scribblesim.sets.files import label_png_bytes, write_bytes_atomic
from scribblesim.sets.scribble_set import read_label_map

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def acdc_build(tmp_path_factory) -> Path:
    """A ScribbleACDC build of six synthetic patients (one validation patient)."""
    tmp = tmp_path_factory.mktemp("acdc")
    out = tmp / "out"
    args = ["build", "acdc", "--root", h5_root(tmp), "--out", out, "--seeds", "1", "2", "--val-patients", "6"]
    result = CliRunner().invoke(scribblesim_main, [*map(str, args), "--no-progress", "--jobs", "1"])
    assert result.exit_code == 0, result.output
    return out


@pytest.mark.parametrize("size", [(64, 64), (77, 101), (40, 48)])
def test_unet_keeps_any_input_size_and_has_wsl4mis_levels(size: tuple[int, int]) -> None:
    model = unet(num_classes=4).eval()
    outputs = model(torch.randn(2, 3, *size))
    assert outputs["out"].shape == (2, 4, *size)
    # four 2 x 2 poolings of the padded input: the bottleneck is 1/16 of it, with 256 channels
    assert outputs["features"].shape[1:] == (LEVEL_CHANNELS[-1], -(-size[0] // 16), -(-size[1] // 16))
    assert [block[0].out_channels for block in model.encoder] == list(LEVEL_CHANNELS)
    grey = unet(num_classes=4, in_channels=1)
    assert grey(torch.randn(1, 1, 32, 32))["out"].shape == (1, 4, 32, 32)


def test_output_stride_16_dilates_layer4_only() -> None:
    model = deeplabv3plus("resnet18", num_classes=4, output_stride=16)
    layers = {name: list(module.children()) for name, module in model.backbone.named_children()}
    assert [b.conv2.dilation for b in layers["layer3"]] == [(1, 1)] * len(layers["layer3"])
    assert layers["layer3"][0].conv1.stride == (2, 2)
    assert [b.conv2.dilation for b in layers["layer4"]] == [(2, 2), (4, 4)]
    outputs = model.eval()(torch.randn(1, 3, 64, 96))
    assert outputs["features"].shape[-2:] == (4, 6) and outputs["out"].shape[-2:] == (64, 96)
    with pytest.raises(ConfigError, match="output stride must be one of 8, 16"):
        deeplabv3plus("resnet18", 4, output_stride=32)


def test_stage2_model_choices_and_their_errors(tmp_path: Path) -> None:
    model = Stage2Model("resnet18", 4, lorm_mask="queries", segmentor="unet")
    features = model(torch.randn(1, 3, 32, 32))["features"]
    assert model.lorm is not None and features.shape[1] == LEVEL_CHANNELS[-1]
    with pytest.raises(ConfigError, match="the UNet trains from scratch"):
        Stage2Model("resnet18", 4, pretrained=tmp_path / "w.pth", segmentor="unet")
    with pytest.raises(ConfigError, match="segmentor must be one of deeplabv3plus, unet"):
        make_stage2_config(segmentor="vnet")
    with pytest.raises(ConfigError, match="output_stride must be one of 8, 16"):
        make_stage2_config(output_stride=4)


def test_adamw_is_an_optimizer_choice() -> None:
    config = make_stage2_config(segmentor="unet", optimizer="adamw", lr=2e-3, weight_decay=1e-4)
    _, optimizer = build_stage2(config, 4, None, torch.device("cpu"))
    assert isinstance(optimizer, torch.optim.AdamW)
    assert optimizer.defaults["lr"] == 2e-3 and optimizer.defaults["weight_decay"] == 1e-4
    _, optimizer = build_stage2(make_stage2_config(segmentor="unet"), 4, None, torch.device("cpu"))
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.9
    with pytest.raises(ConfigError, match="optimizer must be one of sgd, adamw"):
        make_stage2_config(optimizer="adam")


def test_acdc_presets_use_wsl4mis_crops() -> None:
    stage2 = make_stage2_config("acdc")
    assert (stage2.lr, stage2.lambda_segc, stage2.lambda_c, stage2.crop_size, stage2.eval_base_size) == (
        5e-2,
        0.1,
        6.0,
        256,
        256,
    )
    stage1 = make_stage1_config("acdc")
    assert (stage1.iterations, stage1.lambda_segs, stage1.crop_size) == (9000, 0.9, 256)


def test_dice_from_a_confusion_matrix() -> None:
    confusion = np.array([[5, 1, 0], [2, 4, 0], [0, 0, 0]])
    dice = dice_scores(confusion)
    assert dice[0] == pytest.approx(10 / 13) and dice[1] == pytest.approx(8 / 11) and np.isnan(dice[2])


def test_scribble_folder_finds_the_human_set(acdc_build: Path) -> None:
    assert scribble_folder(acdc_build, "train", "human") == "acdc_scribble_human"
    assert scribble_folder(acdc_build, "train", 1) == "acdc_scribble_r1"
    with pytest.raises(DataError, match=r"no scribble folder \*_scribble_r7 covers split 'train'"):
        scribble_folder(acdc_build, "train", 7)


def test_cli_trains_a_unet_on_grayscale_slices(acdc_build: Path, tmp_path: Path) -> None:
    run = tmp_path / "unet"
    args = ["stage2", "--data", acdc_build, "--scribbles", "acdc_scribble_human", "--out", run]
    args += ["--preset", "acdc", "--segmentor", "unet", "--losses", "segs", "--crop-size", "64", "--batch-size", "4"]
    args += ["--epochs", "1", "--max-steps", "2", "--device", "cpu", "--workers", "0", "--no-progress"]
    result = CliRunner().invoke(csptrain_main, [*map(str, args)])
    assert result.exit_code == 0, result.output
    trained = load_stage2_model(run / "last.pt")
    assert trained.config.segmentor == "unet" and trained.step == 2 and trained.model.lorm is None
    evaluate = ["eval", "--data", acdc_build, "--checkpoint", run / "last.pt", "--protocol", "single-scale"]
    evaluate += ["--save-predictions", tmp_path / "predictions"]
    result = CliRunner().invoke(csptrain_main, [*map(str, evaluate), "--device", "cpu", "--workers", "0"])
    assert result.exit_code == 0, result.output
    assert "LV" in result.output and "mIoU" in result.output
    # the slices' volumes: the medical field's Dice, on the line and in eval.json, as the files give it
    scores = json.loads((run / "eval.json").read_text())
    expected = volume_dice(acdc_build, "val", tmp_path / "predictions", 4)
    assert scores["dice"] == pytest.approx(expected["dice"], nan_ok=True)
    assert scores["dice_per_class"] == pytest.approx(expected["dice_per_class"], nan_ok=True)
    assert f"Dice per volume {100 * scores['dice']:.2f} over {scores['volumes']} volumes" in result.output


def test_dice_per_volume_averages_each_structure_over_the_volumes_it_is_in() -> None:
    first = np.array([[5, 1, 0], [2, 4, 0], [0, 0, 0]])  # class 2 in neither truth nor prediction
    second = np.array([[3, 0, 0], [0, 2, 0], [0, 1, 3]])
    dice = metrics_volume_dice(np.stack([first, second]))
    assert dice["dice_per_class"][0] == pytest.approx((8 / 11 + 4 / 5) / 2)
    assert dice["dice_per_class"][1] == pytest.approx(6 / 7)  # its one volume
    assert dice["dice"] == pytest.approx(((8 / 11 + 4 / 5) / 2 + 6 / 7) / 2)
    assert slice_volume("patient012_frame01_z03") == "patient012_frame01" and slice_volume("000000000030") is None


def test_a_budget_of_steps_warms_up_a_tenth_and_ends_its_cosine_at_zero() -> None:
    config = make_stage2_config("acdc", batch_size=10)
    for steps in (3, 37, 230):  # however many steps, however they fall on epochs of 10
        planned = budget_config(config, steps)
        schedule = stage2_schedule(planned, 100, 1, "train")
        assert schedule.total == schedule.stop == steps
        warmup = warmup_steps_for(schedule.total, planned.epochs, planned.warmup_epochs)
        assert warmup == round(steps / 10)
        rates = [lr_at(step, 1.0, schedule.total, warmup) for step in range(steps)]
        assert rates[-1] == pytest.approx(0.0, abs=1e-12) and max(rates) == pytest.approx(1.0)
        assert all(a < b for a, b in zip(rates[:warmup], rates[1:warmup]))  # a rising warm-up


def test_learning_rows_take_their_labels_by_role(acdc_build: Path, tmp_path: Path) -> None:
    sets = {"human": (acdc_build, "human"), "sim": (acdc_build, "1")}
    assert row_source(acdc_build, "full", sets) == (acdc_build, "SegmentationClassAug")
    assert row_source(acdc_build, "cspnet-human", sets) == (acdc_build, "acdc_scribble_human")
    assert row_source(acdc_build, "pce-sim", sets) == (acdc_build, "acdc_scribble_r1")
    with pytest.raises(ConfigError, match="--fitted"):
        row_source(acdc_build, "pce-fitted", sets)
    other = tmp_path / "other"  # the same build with another split
    shutil.copytree(acdc_build, other, symlinks=True)
    (other / "ImageSets/SegmentationAug/val.txt").write_text("patient001_frame01_z01\n")
    with pytest.raises(ConfigError, match="its val split is not --data's"):
        row_source(acdc_build, "pce-fitted", {"fitted": (other, "1")})


def test_learning_benchmark_reports_rows_over_seeds_and_annotators(acdc_build: Path, tmp_path: Path) -> None:
    command = [sys.executable, "benchmarks/learning.py", "--data", str(acdc_build), "--rows", "pce-human,pce-sim"]
    command += ["--sim-set", "1,2", "--repeats", "2", "--budget-minutes", "0.02", "--tiny", "--device", "cpu"]
    command += ["--work", str(tmp_path), "--json"]
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["classes"] == ["background", "RV", "MYO", "LV"] and report["budget_minutes"] == 0.02
    assert 0 < report["background_only_miou"] < 0.5
    rows = report["rows"]
    assert list(rows) == ["pce-human", "pce-s1", "pce-s2"]  # one row per simulated annotator
    first_steps = rows["pce-human"]["steps"]
    for row, labels in (
        ("pce-human", "acdc_scribble_human"),
        ("pce-s1", "acdc_scribble_r1"),
        ("pce-s2", "acdc_scribble_r2"),
    ):
        figures = rows[row]
        assert figures["labels"] == labels and figures["n"] == 2 and [r["seed"] for r in figures["runs"]] == [0, 1]
        assert {r["steps"] for r in figures["runs"]} == {first_steps}  # one probe: every run of the kind as long
        mious = [r["miou"] for r in figures["runs"]]
        assert figures["miou"] == pytest.approx(np.mean(mious)) and figures["miou_std"] == pytest.approx(
            np.std(mious, ddof=1)
        )
        assert len(figures["iou"]) == len(figures["iou_std"]) == 4 and 0 <= figures["dice"] <= 1
        for run in figures["runs"]:
            steps = [point["step"] for point in run["curve"]]
            assert len(steps) <= len(CURVE) and steps == sorted(set(steps)) and steps[-1] == first_steps
            recorded = json.loads((tmp_path / row / f"seed{run['seed']}" / "stage2" / "config.json").read_text())
            assert recorded["seed"] == run["seed"]
    means = report["annotators"]["pce-sim (s1, s2)"]
    assert means["n"] == 2 and means["mean"] == pytest.approx((rows["pce-s1"]["miou"] + rows["pce-s2"]["miou"]) / 2)
    missing = subprocess.run(
        [*command[:5], "pce-fitted", "--json"], cwd=REPOSITORY, capture_output=True, text=True, timeout=600
    )
    assert missing.returncode != 0 and "give the build of its scribbles with --fitted" in missing.stderr


def test_cspnet_row_gives_stage_2_what_stage_1_and_its_labels_left(acdc_build: Path, tmp_path: Path) -> None:
    command = [sys.executable, "benchmarks/learning.py", "--data", str(acdc_build), "--rows", "cspnet-sim"]
    command += ["--budget-minutes", "0.05", "--tiny", "--device", "cpu", "--work", str(tmp_path), "--json"]
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    (run,) = json.loads(result.stdout)["rows"]["cspnet-sim"]["runs"]
    split = run["split"]
    assert split["budget_s"] == pytest.approx(3.0) and run["labels"] == "acdc_scribble_r1"
    assert split["stage1_s"] + split["pseudo_s"] + split["stage2_s"] == pytest.approx(split["total_s"], abs=0.2)
    assert run["curve"][0]["train_s"] > split["stage1_s"] + split["pseudo_s"] - 0.2  # the curve counts stage 1
    assert 0 <= run["pseudo_miou"] <= 1 and run["stage1_steps"] >= 1


def test_cspnet_row_plans_stage_2_on_the_budget_left(monkeypatch, tmp_path: Path) -> None:
    given = {}

    def stage1(row, budget_s, steps=None, source="cam"):
        given["stage1"] = budget_s
        return tmp_path, {"miou": 0.5, "uncertain_share": 0.1, "stage1_steps": 7, "stage1_s": 30.0, "pseudo_s": 20.0}

    def stage2(row, pseudo, budget_s, spent_s=0.0, steps=None):
        given["stage2"], given["spent"] = budget_s, spent_s
        return {"train_s": spent_s + budget_s, "steps": 9}

    monkeypatch.setattr(learning, "train_stage1_and_pseudo", stage1)
    monkeypatch.setattr(learning, "train_stage2_row", stage2)
    config = make_stage2_config("acdc")
    row = learning.RowRun("cspnet-human", tmp_path, "", config, learning.TINY_SETTINGS, tmp_path, None, None, print)
    result = learning.train_cspnet_row(row, 100.0)
    assert given == {"stage1": learning.STAGE1_SHARE * 100.0, "stage2": 50.0, "spent": 50.0}
    assert result["split"] == {
        "stage1_s": 30.0,
        "pseudo_s": 20.0,
        "stage2_s": 50.0,
        "total_s": 100.0,
        "budget_s": 100.0,
    }


def test_a_probe_separates_the_start_of_a_call_from_its_steps(monkeypatch, tmp_path: Path) -> None:
    clock = [0.0]
    done: dict[Path, int] = {}

    def train(run: Path, stop: int) -> None:  # 3 s to start, 0.5 s a step
        clock[0] += 3.0 + 0.5 * (stop - done.get(run, 0))
        done[run] = stop

    monkeypatch.setattr(budget.time, "perf_counter", lambda: clock[0])
    cost = budget.probe_step_cost(train, tmp_path)
    assert (cost.start_s, cost.step_s) == pytest.approx((3.0, 0.5))
    assert cost.steps_for(100.0, starts=4) == 176 and cost.steps_for(1.0, starts=4) == 1
    done.clear()  # a longer call timed no longer than the shorter one (noise): steps still cost something
    times = iter([0.0, 10.0, 10.0, 19.0])  # 5 steps in 10 s, then 10 steps in 9 s
    monkeypatch.setattr(budget.time, "perf_counter", lambda: next(times))
    cost = budget.probe_step_cost(lambda run, stop: None, tmp_path, steps=5)
    assert cost.step_s == pytest.approx(9.0 / 40) and cost.steps_for(60.0) == int((60 - cost.start_s) / cost.step_s)


def test_pseudo_miou_has_the_known_answer(acdc_build: Path, tmp_path: Path) -> None:
    """Pseudo-labels that are the ground truth with LV called MYO and the first row uncertain."""
    folder = PseudoLabelFolder(tmp_path / "pseudo")
    folder.folder.mkdir()
    ids = read_split(acdc_build, "train")
    myo = lv = uncertain = labelled = 0
    for name in ids:
        truth = read_label_map(Layout(acdc_build).ground_truth(name))
        pseudo = np.where(truth == 3, 2, truth).astype(np.uint8)
        pseudo[0] = 255
        write_bytes_atomic(folder.label(name), label_png_bytes(pseudo))
        myo, lv = myo + int((truth[1:] == 2).sum()), lv + int((truth[1:] == 3).sum())
        uncertain, labelled = uncertain + int((truth[0] != 255).sum()), labelled + int((truth != 255).sum())
    scores = score_pseudo_labels(acdc_build, folder.folder, ids, 4)
    assert myo > 0 and lv > 0  # every class is there to be scored
    assert scores["iou"] == pytest.approx([1.0, 1.0, myo / (myo + lv), 0.0])
    assert scores["miou"] == pytest.approx((2 + myo / (myo + lv)) / 4)
    assert scores["uncertain_share"] == pytest.approx(uncertain / labelled)


def test_table_vi_lines_and_their_table() -> None:
    assert parse_lines("1,10") == (1, 10) and TABLE_VI[1] == ("segs",) and len(TABLE_VI[10]) == 5
    for bad in ("0,1", "x", ""):
        with pytest.raises(ConfigError, match="--ablation"):
            parse_lines(bad)
    runs = [
        {"line": line, "annotator": a, "seed": s, "miou": m}
        for line, a, s, m in [
            (1, "human", 0, 0.50),
            (1, "human", 1, 0.52),
            (10, "human", 0, 0.55),
            (10, "human", 1, 0.57),
        ]
    ]
    table = summarise(runs)
    assert table[1]["human"] == pytest.approx({"mean": 0.51, "std": 0.0141421, "n": 2}, rel=1e-4)
    assert table[10]["all"]["mean"] == pytest.approx(0.56)
    assert "56.00 ± 1.41 (n=2)" in format_ablation(runs)


def test_ablation_trains_every_line_as_long_on_one_set_of_pseudo_labels(acdc_build: Path, tmp_path: Path) -> None:
    work, figure = tmp_path / "work", tmp_path / "table-vi.png"
    command = [sys.executable, "benchmarks/learning.py", "--data", str(acdc_build), "--ablation", "1,10"]
    command += ["--annotators", "human", "--repeats", "2", "--tiny", "--budget-minutes", "0.02"]
    command += ["--stage1-minutes", "0.01", "--device", "cpu", "--work", str(work), "--figure", str(figure), "--json"]
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    runs = report["ablation"]
    assert sorted((r["line"], r["seed"]) for r in runs) == [(1, 0), (1, 1), (10, 0), (10, 1)]
    assert {r["steps"] for r in runs} == {report["steps"]["human"]}  # one probe, the same steps for every line
    assert all(0 <= r["miou"] <= 1 and 0 <= r["dice"] <= 1 and r["annotator"] == "human" for r in runs)
    pseudo = report["pseudo"]["human"]
    assert 0 <= pseudo["pseudo_miou"] <= 1 and 0 <= pseudo["pce_miou"] <= 1 and pseudo["stage1_steps"] >= 1
    assert report["figure"] == str(figure) and figure.read_bytes().startswith(b"\x89PNG")
    for r in runs:
        run = work / "human" / f"line{r['line']}-seed{r['seed']}" / "stage2"
        last = json.loads((run / "progress.json").read_text())["last"]
        assert set(last) - {"step", "lr", "loss"} == set(TABLE_VI[r["line"]])  # the line's terms, and only they
        recorded = json.loads((run / "config.json").read_text())
        assert recorded["seed"] == r["seed"] and recorded["pseudo"] == str((work / "human" / "pseudo").resolve())

    # more lines join the table at given steps: stage 1 and its pseudo-labels are found done in the work folder;
    # a line whose L_segc ignores uncertain pixels trains in a folder of its own
    stage1 = work / "human" / "stage1" / "progress.json"
    stamps = {p: p.stat().st_mtime_ns for p in [stage1, *(work / "human" / "pseudo").glob("*.png")]}
    more = command[:5] + ["3", *command[6:], "--steps", "3"]
    more += ["--stage1-steps", str(pseudo["stage1_steps"]), "--repeats", "1", "--uncertain", "ignore"]
    added = subprocess.run(more, cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert added.returncode == 0, added.stderr[-2000:]
    line3 = json.loads(added.stdout)
    assert [(r["line"], r["steps"]) for r in line3["ablation"]] == [(3, 3)]
    assert line3["uncertain"] == "ignore" and report["uncertain"] == "background"
    recorded = json.loads((work / "human" / "line3-seed0-uncertain-ignore" / "stage2" / "config.json").read_text())
    assert recorded["uncertain"] == "ignore"
    line3_run = work / "human" / "line3-seed0-uncertain-ignore" / "stage2"
    last = json.loads((line3_run / "progress.json").read_text())["last"]
    assert last["lr"] == 0.0  # the schedule ends at 0 on the last step
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}
    assert [point["step"] for point in line3["ablation"][0]["curve"]] == [1, 2, 3]  # each point once
    rerun = subprocess.run(more, cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert [point["step"] for point in json.loads(rerun.stdout)["ablation"][0]["curve"]] == [3]  # nothing to redo


def test_partial_ce_alone_trains_no_stage_1(acdc_build: Path, tmp_path: Path) -> None:
    command = [sys.executable, "benchmarks/learning.py", "--data", str(acdc_build), "--ablation", "1"]
    command += ["--annotators", "s2", "--tiny", "--budget-minutes", "0.02", "--device", "cpu"]
    command += ["--work", str(tmp_path), "--figure", str(tmp_path / "f.png")]
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "s2: no stage 1 (no line reads pseudo-labels), line 1's own predictions there" in result.stdout
    assert not (tmp_path / "s2" / "stage1").exists() and not (tmp_path / "s2" / "pseudo").exists()
    recorded = json.loads((tmp_path / "s2" / "line1-seed0" / "stage2" / "config.json").read_text())
    assert recorded["pseudo"] is None and recorded["scribbles"] == "acdc_scribble_r2"


def test_scribble_classes_measures_a_set_that_is_the_ground_truth(acdc_build: Path, tmp_path: Path) -> None:
    build = tmp_path / "build"
    shutil.copytree(acdc_build, build, symlinks=True)
    shutil.copytree(build / "SegmentationClassAug", build / "acdc_scribble_r9")  # a set labelling every pixel
    command = [sys.executable, "benchmarks/scribble_classes.py", str(build), "--sets", "9,1,human", "--json"]
    result = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    assert report["classes"] == ["background", "RV", "MYO", "LV"] and report["split"] == "train"
    dense, simulated = report["sets"]["9"], report["sets"]["1"]
    for k in (1, 2, 3):
        assert dense[k]["objects"] > 0 and dense[k]["objects"] == simulated[k]["objects"]
        assert (dense[k]["missed"], dense[k]["labelled"], dense[k]["reach"], dense[k]["spill"]) == (0, 1, 0, 0)
        assert simulated[k]["spill"] == 0 and 0 < simulated[k]["labelled"] < 1 and simulated[k]["reach"] > 0
    assert (dense[0]["labelled"], dense[0]["spill"], dense[0]["objects"]) == (1, 0, 0)  # background: no objects
    missing = subprocess.run([*command[:3], "--sets", "7"], cwd=REPOSITORY, capture_output=True, text=True)
    assert missing.returncode == 1 and missing.stderr.strip().endswith("scribble set '7' not found in the build")


def test_every_run_of_a_kind_trains_the_steps_of_its_first_probe(monkeypatch, tmp_path: Path) -> None:
    calls = []

    def train_row(row, budget_s, plan=None):
        calls.append((row.name, plan))
        run = {"labels": "x", "steps": plan["steps"] if plan else 100 + len(calls), "curve": []}
        run |= {"miou": 0.5, "dice": 0.5, "iou": [0.5] * 4, "train_s": 1.0}
        return run | ({"stage1_steps": 3} if row.name.startswith("cspnet") else {})

    monkeypatch.setattr(repeats, "train_row", train_row)
    config = make_stage2_config("acdc", seed=4)
    rows = [
        learning.RowRun(name, tmp_path, "", config, learning.TINY_SETTINGS, tmp_path / name, None, None, print)
        for name in ("pce-human", "cspnet-human", "pce-s1")
    ]
    results = repeats.train_rows(rows, 60.0, 2)
    stage2, cspnet = {"steps": 101, "stage1_steps": None}, {"steps": 103, "stage1_steps": 3}
    assert calls == [
        ("pce-human seed 4", None),  # the first probe of each kind ...
        ("pce-human seed 5", stage2),
        ("cspnet-human seed 4", None),
        ("cspnet-human seed 5", cspnet),
        ("pce-s1 seed 4", stage2),  # ... plans every later run of its kind
        ("pce-s1 seed 5", stage2),
    ]
    assert [r["seed"] for r in results["pce-s1"]["runs"]] == [4, 5] and results["pce-s1"]["n"] == 2
    calls.clear()
    repeats.train_rows(rows[:1], 60.0, 1, steps=7)  # an earlier table's steps: no probe
    assert calls == [("pce-human seed 4", {"steps": 7})]

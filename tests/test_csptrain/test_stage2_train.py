"""Stage-2 training on a tiny dataset built by scribblesim from the embedded COCO sample."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from dataset_fixtures import build_tiny

from csptrain.cli import main
from csptrain.data.labels import IGNORE
from csptrain.data.stage2 import Augment, ScribbleDataset
from csptrain.models import Stage2Model
from csptrain.reporting.figure import training_curves
from csptrain.runtime.accumulation import backward_over
from csptrain.runtime.process import Process
from csptrain.runtime.settings import RunSettings
from csptrain.stage2.config import make_stage2_config as make_config
from csptrain.stage2.train import stage2_losses, stage2_model, train_stage2
from csptrain.stage2.train import train_step as stage2_step

CPU = Process(torch.device("cpu"))  # one process on the CPU, as `joined("cpu")` gives
TINY = dict(backbone="resnet18", crop_size=64, batch_size=2, epochs=1)
QUIET = RunSettings(device="cpu", workers=0, progress=False)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = build_tiny(tmp_path_factory.mktemp("tiny"), count=8, split="train", shrink=2)
    train_ids = (out / "ImageSets/SegmentationAug/train.txt").read_text().split()
    (out / "ImageSets/SegmentationAug/val.txt").write_text("".join(f"{name}\n" for name in train_ids[:2]))
    return out


def dataset(data: Path, **kw) -> ScribbleDataset:
    return ScribbleDataset(
        data, "train", "tiny_scribble_r1", data / "SegmentationClassAug", Augment(64), 1.0, 7.0, **kw
    )


def test_overfits_one_batch_on_its_scribbles(data: Path) -> None:
    torch.manual_seed(0)
    config = make_config("coco", **TINY, losses="segs")
    items = [dataset(data)[i] for i in range(8)]
    items = sorted(items, key=lambda b: -int((b["scribble"] != IGNORE).sum()))[:2]
    batch = {k: torch.stack([b[k] for b in items]) for k in items[0]}
    model = stage2_model(config, 81)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(60):
        loss = sum(stage2_losses(model(batch["image"]), batch, config, None).values())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        prediction = model(batch["image"])["out"].argmax(1)
    labelled = batch["scribble"] != IGNORE
    assert labelled.sum() > 50
    assert (prediction[labelled] == batch["scribble"][labelled]).float().mean() > 0.97


def test_accumulated_micro_batches_make_the_update_of_their_whole_batch(data: Path) -> None:
    """Two micro-batches, one optimiser step: the update of one batch of both (BatchNorm frozen in eval mode).

    Pixel-averaged losses average per micro-batch, as DDP averages per rank: identical
    halves make the whole batch's mean exactly.
    """
    config = make_config("coco", **TINY, losses="segs,segc,ds,dc,lorm")
    half = {k: torch.stack([dataset(data)[i][k] for i in range(2)]) for k in dataset(data)[0]}
    whole = {k: torch.cat([v, v]) for k, v in half.items()}
    weights = []
    for batches in ([half, half], [whole]):
        torch.manual_seed(0)
        model = stage2_model(config, 81).eval()
        optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
        terms = stage2_step(model, model, optimizer, batches, config, 0.1, False)
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        assert set(terms) == {"segs", "segc", "ds", "dc", "lorm"}
    assert torch.allclose(weights[0], weights[1], atol=1e-6)


def test_backward_over_micro_batches_equals_the_whole_batch() -> None:
    torch.manual_seed(0)
    inputs, targets = torch.randn(6, 3), torch.randn(6, 2)
    grads = []
    for chunks in (1, 3):
        model = torch.nn.Linear(3, 2)
        torch.nn.init.constant_(model.weight, 0.5)
        torch.nn.init.zeros_(model.bias)
        pairs = list(zip(inputs.chunk(chunks), targets.chunk(chunks)))
        means = backward_over(model, pairs, lambda pair, m=model: {"mse": ((m(pair[0]) - pair[1]) ** 2).mean()})
        grads.append((model.weight.grad.clone(), means["mse"]))
    assert torch.allclose(grads[0][0], grads[1][0], atol=1e-6) and torch.isclose(grads[0][1], grads[1][1])


def test_all_loss_terms_are_finite_and_lorm_has_parameters(data: Path) -> None:
    config = make_config("coco", **TINY)
    batch = {k: torch.stack([dataset(data)[i][k] for i in range(2)]) for k in dataset(data)[0]}
    model = stage2_model(config, 81)
    terms = stage2_losses(model(batch["image"]), batch, config, model.lorm)
    assert set(terms) == {"segs", "segc", "ds", "dc", "lorm"}
    assert all(torch.isfinite(v) and v >= 0 for v in terms.values())
    assert model.lorm.delta.item() == 1.0


def test_distance_maps_follow_the_augmentation(data: Path) -> None:
    item = dataset(data)[0]
    foreground = (item["scribble"] != 0) & (item["scribble"] != IGNORE)
    assert torch.all(item["d_s"][foreground] == 1.0)
    assert item["image"].shape == (3, 64, 64) and item["d_c"].shape == (64, 64)
    again = dataset(data)[0]
    assert all(torch.equal(item[k], again[k]) for k in item)


def fixed_batch_loss(model: Stage2Model, batch: dict, config) -> float:
    torch.manual_seed(0)  # same dropout draw for every evaluation
    with torch.no_grad():
        return float(sum(stage2_losses(model(batch["image"]), batch, config, model.lorm).values()))


def test_loss_decreases(data: Path, tmp_path: Path) -> None:
    # the optimisation is under test here, so the training views are not rotated or blurred (8 epochs
    # of the authors' full augmentation bring the loss down by some 15 %, too close to call). At lr
    # 0.05 this tiny run sat at the edge of stability: images one grey level apart on a tenth of
    # their pixels took seed 0 from 5.3 to 10.1; at 0.02 seeds 0-2 end at 2.8-4.2 from 7-8.
    config = make_config(
        "coco",
        **{**TINY, "epochs": 8, "crop_size": 96},
        losses="segs,segc",
        lr=0.02,
        warmup_epochs=1,
        rotation=0.0,
        blur=False,
    )
    batch = {k: torch.stack([dataset(data)[i][k] for i in range(4)]) for k in dataset(data)[0]}
    torch.manual_seed(config.seed)  # the initialisation train_stage2 starts from
    model = stage2_model(config, 81)
    before = fixed_batch_loss(model, batch, config)
    train_stage2(data, "tiny_scribble_r1", data / "SegmentationClassAug", tmp_path / "run", config, CPU, settings=QUIET)
    model.load_state_dict(torch.load(tmp_path / "run/last.pt", weights_only=False)["model"])
    after = fixed_batch_loss(model, batch, config)
    assert after < 0.85 * before, (before, after)


def test_resume_continues_exactly(data: Path, tmp_path: Path) -> None:
    config = make_config("coco", **{**TINY, "epochs": 2}, losses="segs,segc,ds,dc,lorm")
    settings = replace(QUIET, max_steps=4, checkpoint_every=1)
    straight = train_stage2(
        data, "tiny_scribble_r1", data / "SegmentationClassAug", tmp_path / "a", config, CPU, settings=settings
    )
    # an interrupted run: stopped after step 2 (its last checkpoint), then the same command again
    train_stage2(
        data,
        "tiny_scribble_r1",
        data / "SegmentationClassAug",
        tmp_path / "b",
        config,
        CPU,
        settings=replace(settings, max_steps=2),
    )
    state = torch.load(tmp_path / "b/last.pt", weights_only=False)
    assert state["step"] == 2
    resumed = train_stage2(
        data,
        "tiny_scribble_r1",
        data / "SegmentationClassAug",
        tmp_path / "b",
        config,
        CPU,
        settings=settings,
    )
    assert resumed["step"] == straight["step"] == 4
    assert resumed["lr"] == straight["lr"]
    assert resumed["loss"] == pytest.approx(straight["loss"], rel=1e-5)
    a = torch.load(tmp_path / "a/last.pt", weights_only=False)["model"]
    b = torch.load(tmp_path / "b/last.pt", weights_only=False)["model"]
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-6) for k in a)


def test_cli_stage2_eval_report(data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    run = tmp_path / "seed1"
    result = runner.invoke(
        main,
        [
            "stage2",
            "--data",
            str(data),
            "--scribbles",
            "tiny_scribble_r1",
            "--pseudo",
            str(data / "SegmentationClassAug"),
            "--out",
            str(run),
            "--preset",
            "coco",
            "--backbone",
            "resnet18",
            "--crop-size",
            "64",
            "--batch-size",
            "2",
            "--epochs",
            "1",
            "--max-steps",
            "2",
            "--device",
            "cpu",
            "--workers",
            "0",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (run / "last.pt").is_file() and any((run / "tensorboard").iterdir())
    evaluate = ["eval", "--data", str(data), "--checkpoint", str(run / "last.pt"), "--device", "cpu", "--no-progress"]
    result = runner.invoke(
        main,
        [
            *evaluate,
            "--protocol",
            "single-scale",
            "--flip",
            "--scales",
            "1.0",
            "0.75",
            "--save-predictions",
            str(tmp_path / "pred"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "mIoU" in result.output and len(list((tmp_path / "pred").glob("*.png"))) == 2
    record = json.loads((run / "eval.json").read_text())["protocol"]
    assert record == {
        "name": "single-scale",
        "scales": [1.0, 0.75],
        "flip": True,
        "base_size": None,
        "window": None,
        "stride": None,
    }
    # the default, the authors' protocol, on a small base size (long sides 48 to 192) to stay quick
    result = runner.invoke(main, [*evaluate, "--base-size", "96"])
    assert result.exit_code == 0, result.output
    assert "protocol: authors (long side 96 at scales 0.5, 0.75, 1, 1.25, 1.5, 1.75, 2, 64-px windows" in result.output
    record = json.loads((run / "eval.json").read_text())["protocol"]
    assert record == {
        "name": "authors",
        "scales": [0.5, 0.75, 1.0, 1.25, 1.5, 1.75, 2.0],
        "flip": False,
        "base_size": 96,
        "window": 64,
        "stride": 43,
    }
    figure = tmp_path / "report.png"
    result = runner.invoke(main, ["report", str(run), str(run), "--figure", str(figure)])
    assert result.exit_code == 0 and "mean ± std" in result.output and "± 0.00" in result.output
    assert figure.read_bytes().startswith(b"\x89PNG") and f"figure: {figure}" in result.output
    curves = training_curves(run)  # what the picture draws: the logged loss and rate of every step
    assert curves["loss"][0] == curves["lr"][0] == [1, 2]
    assert "evaluation: authors (long side 96" in result.output
    result = runner.invoke(main, [*evaluate, "--scales", "0"])
    assert result.exit_code == 2 and result.stderr == "error: evaluation scales must be > 0, got 0.0\n"


def test_cli_bad_input_is_one_line(data: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main, ["stage2", "--data", str(data), "--scribbles", "nope", "--out", str(tmp_path / "r"), "--device", "cpu"]
    )
    assert result.exit_code == 2 and result.stderr.strip() == f"error: {data / 'nope'}: scribble folder not found"
    result = runner.invoke(
        main,
        [
            "stage2",
            "--data",
            str(data),
            "--scribbles",
            "tiny_scribble_r1",
            "--out",
            str(tmp_path / "r"),
            "--losses",
            "segs,wat",
        ],
    )
    assert result.exit_code == 2 and "losses must be" in result.stderr
    result = runner.invoke(main, ["report", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "eval.json: no evaluation" in result.stderr

"""csptrain on bad input, reruns and interruptions: one line, the right exit status, nothing lost."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import torchvision
from click.testing import CliRunner
from dataset_fixtures import build_tiny

from csptrain.cli import main

TINY = [
    "--backbone",
    "resnet18",
    "--crop-size",
    "64",
    "--batch-size",
    "2",
    "--device",
    "cpu",
    "--workers",
    "0",
    "--epochs",
    "1",
    "--no-progress",
]


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return build_tiny(tmp_path_factory.mktemp("tiny"), count=4, split="train", shrink=4)


def stage2(data: Path, out: Path, *extra: str):
    args = ["stage2", "--data", str(data), "--scribbles", "tiny_scribble_r1", "--out", str(out), *TINY, *extra]
    return CliRunner().invoke(main, args)


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.output, result.output
    return lines[0]


def test_pretrained_of_another_shape_is_one_line(data: Path, tmp_path: Path) -> None:
    state = torchvision.models.resnet18().state_dict()
    state["layer1.0.conv1.weight"] = torch.zeros(64, 64, 1, 1)  # a bottleneck's 1x1, as in ResNet-50
    torch.save(state, tmp_path / "other.pth")
    line = one_error_line(stage2(data, tmp_path / "run", "--pretrained", str(tmp_path / "other.pth")))
    assert "not a torchvision resnet18 state dict" in line and "layer1.0.conv1.weight" in line


def test_stage1_weights_without_a_vit_are_one_line(data: Path, tmp_path: Path) -> None:
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "resnet.pth")
    result = CliRunner().invoke(
        main,
        [
            "stage1",
            "--data",
            str(data),
            "--scribbles",
            "tiny_scribble_r1",
            "--out",
            str(tmp_path / "run"),
            "--backbone",
            "vit_tiny_patch16_224",
            "--pretrained",
            str(tmp_path / "resnet.pth"),
            "--device",
            "cpu",
        ],
    )
    assert "not a checkpoint of vit_tiny_patch16_224" in one_error_line(result)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_one_line(data: Path, tmp_path: Path) -> None:
    result = stage2(data, tmp_path / "run", "--device", "cuda", "--max-steps", "1")
    # --device appears twice (TINY's cpu, then cuda): click keeps the last
    assert "no CUDA device" in one_error_line(result)


def test_missing_data_folder_says_so(tmp_path: Path) -> None:
    line = one_error_line(stage2(tmp_path / "nowhere", tmp_path / "run"))
    assert "nowhere" in line and "not found" in line


def test_help_and_a_clear_line_without_the_train_extra() -> None:
    code = (
        "import sys\n"
        "for name in ('torch', 'torchvision', 'timm', 'yaml'): sys.modules[name] = None\n"
        "from csptrain.cli import main\n"
        "main()\n"
    )
    helped = subprocess.run([sys.executable, "-c", code, "stage2", "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "[default: 0.002]" in helped.stdout
    failed = subprocess.run(
        [sys.executable, "-c", code, "stage2", "--data", "d", "--scribbles", "s", "--out", "o"],
        capture_output=True,
        text=True,
    )
    assert failed.returncode == 2 and "Traceback" not in failed.stderr
    assert len(failed.stderr.strip().splitlines()) == 1 and "needs the train extra" in failed.stderr


def test_finished_run_reports_its_loss_and_changed_settings_are_refused(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    first = stage2(data, out, "--epochs", "3", "--max-steps", "2")
    assert first.exit_code == 0, first.output
    again = stage2(data, out, "--epochs", "3", "--max-steps", "2")
    assert again.exit_code == 0 and "nan" not in again.output
    assert again.output.strip() == first.output.strip()  # the finished run's step and loss
    line = one_error_line(stage2(data, out, "--epochs", "3", "--max-steps", "3", "--lr", "0.5"))
    assert "lr 0.002 -> 0.5" in line and "--reconfigure" in line
    # a later stop, other loaders or saves are how the run runs, not what it learns: none is recorded
    more = stage2(data, out, "--epochs", "3", "--max-steps", "3", "--workers", "1", "--checkpoint-every", "7")
    assert more.exit_code == 0 and f"{out}: step 3" in more.output
    recorded = json.loads((out / "config.json").read_text())
    assert not {"max_steps", "device", "workers", "checkpoint_every", "bf16", "accumulate"} & recorded.keys()
    # a run folder of an older csptrain, which recorded its run settings too, still resumes
    (out / "config.json").write_text(json.dumps({**recorded, "workers": 4, "device": "cuda", "max_steps": 3}))
    assert stage2(data, out, "--epochs", "3", "--max-steps", "3").exit_code == 0
    changed = stage2(data, out, "--epochs", "3", "--max-steps", "4", "--lr", "0.5", "--reconfigure")
    assert changed.exit_code == 0 and json.loads((out / "config.json").read_text())["lr"] == 0.5


def test_sigint_saves_a_checkpoint_and_exits_130(data: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    command = [
        sys.executable,
        "-m",
        "csptrain",
        "stage2",
        "--data",
        str(data),
        "--scribbles",
        "tiny_scribble_r1",
        "--out",
        str(out),
        *TINY,
        "--epochs",
        "500",
        "--checkpoint-every",
        "100000",
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"}
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "tensorboard").is_dir():
        time.sleep(0.1)
    time.sleep(3.0)  # some steps, none of them a checkpoint step
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr and "interrupted at step" in stderr
    progress = json.loads((out / "progress.json").read_text())
    assert progress["step"] >= 1 and (out / "last.pt").is_file()


def test_a_bad_image_read_in_a_worker_is_one_line(data: Path, tmp_path: Path) -> None:
    copy = tmp_path / "data"
    shutil.copytree(data, copy, symlinks=True)
    image = sorted((copy / "JPEGImages").iterdir())[0]
    image.unlink()
    image.write_bytes(b"not a jpeg")
    line = one_error_line(stage2(copy, tmp_path / "run", "--workers", "1", "--epochs", "4"))
    assert line.startswith(f"error: {image}") and "unreadable image" in line


def test_no_progress_bar_when_stderr_is_not_a_terminal(data: Path, tmp_path: Path) -> None:
    args = [
        "stage2",
        "--data",
        str(data),
        "--scribbles",
        "tiny_scribble_r1",
        "--out",
        str(tmp_path / "run"),
        *[a for a in TINY if a != "--no-progress"],
        "--max-steps",
        "1",
    ]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "step/s" not in result.output and "it/s" not in result.output and "%|" not in result.output

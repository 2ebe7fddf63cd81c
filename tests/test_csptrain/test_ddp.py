"""csptrain under torchrun for real: 2 CPU processes (gloo) on a tiny build of the embedded sample."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from dataset_fixtures import build_tiny

#: A tiny ``csptrain run``: every stage-1 term from the first step, 2 steps of each stage.
TINY_RUN = [
    "--preset", "coco", "--device", "cpu", "--workers", "0",
    "--stage1-backbone", "vit_tiny_patch16_224", "--stage1-crop-size", "64", "--stage1-local-crop-size", "32",
    "--backbone", "resnet18", "--crop-size", "64", "--batch-size", "2", "--max-steps", "2",
    "--train-split", "val2017", "--val-split", "val2017", "--protocol", "single-scale", "--no-progress",
]  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Four sample images (one batch of 2 per process), split ``val2017``, seeds 1 and 2, shrunk to a quarter."""
    return build_tiny(tmp_path_factory.mktemp("tiny-ddp"), count=4, seeds=(1, 2), split="val2017", shrink=4)


def torchrun(*args: str) -> list[str]:
    """``torchrun --standalone --nproc_per_node 2 -m csptrain ARGS`` as a user types it."""
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
            "-m", "csptrain", *args]  # fmt: skip


def run_job(args: list[str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(torchrun(*args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def test_torchrun_pipeline_writes_everything_once_and_reruns_as_done(data: Path, tmp_path: Path) -> None:
    args = ["run", "--data", str(data), "--seeds", "1", "2", "--out", "runs", *TINY_RUN]
    first = run_job(args, tmp_path)
    assert first.returncode == 0, first.stdout + first.stderr
    runs = tmp_path / "runs"
    assert first.stdout.count("mean ± std") == 1  # one rank prints
    assert sorted(p.name for p in runs.iterdir()) == ["preview", "r1", "r2", "report.json", "report.png", "report.txt"]
    assert len(list((runs / "preview").glob("*.png"))) == 4 and not list((runs / "preview").glob(".*"))
    for seed in (1, 2):
        root = runs / f"r{seed}"
        assert len(list((root / "pseudo").glob("*.png"))) == 4  # every image, each written by one rank
        evaluation = json.loads((root / "stage2/eval.json").read_text())
        assert evaluation["images"] == 4 and evaluation["checkpoint_step"] == 2
        assert sum(map(sum, evaluation["confusion"])) > 0  # both ranks' shares merged
        assert json.loads((root / "stage2/progress.json").read_text())["step"] == 2
        assert not list(root.rglob(".*.tmp"))
    stamps = {
        p: p.stat().st_mtime_ns
        for p in runs.rglob("*")
        if p.is_file() and not p.relative_to(runs).match("preview/*") and "report" not in p.name
    }
    started = time.monotonic()
    again = run_job(args, tmp_path)
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count(" done ") == 8 and " todo " not in again.stdout
    assert time.monotonic() - started < 60
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}


def test_torchrun_predict_shares_the_images_and_one_rank_reports(trained: tuple[Path, Path], tmp_path: Path) -> None:
    data, checkpoint = trained
    args = ["predict", str(data / "JPEGImages"), "--checkpoint", str(checkpoint), "--out", "pred"]
    done = run_job(
        [*args, "--protocol", "single-scale", "--device", "cpu", "--workers", "0", "--no-progress"], tmp_path
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("labels written") == 1 and "4 labels written, 0 already there" in done.stdout
    assert len(list((tmp_path / "pred").glob("*.png"))) == 4 and not list((tmp_path / "pred").glob(".*"))


def rank_process(job: subprocess.Popen, rank: int) -> psutil.Process | None:
    for child in psutil.Process(job.pid).children(recursive=True):
        try:
            if child.environ().get("RANK") == str(rank) and "csptrain" in " ".join(child.cmdline()):
                return child
        except psutil.Error:
            continue
    return None


def test_sigterm_to_one_rank_stops_the_job_with_a_checkpoint_and_the_rerun_resumes(data: Path, tmp_path: Path) -> None:
    args = ["stage2", "--data", str(data), "--scribbles", "tiny_scribble_r1", "--out", "s2",
            "--train-split", "val2017", "--device", "cpu", "--workers", "0", "--backbone", "resnet18",
            "--crop-size", "64", "--batch-size", "2", "--epochs", "1000", "--checkpoint-every", "1000",
            "--no-progress"]  # fmt: skip
    out = tmp_path / "s2"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(
        torchrun(*args, "--max-steps", "500"),
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    deadline = time.monotonic() + 120
    second = None
    while time.monotonic() < deadline and not (second and list(out.glob("tensorboard/*"))):
        second = second or rank_process(job, 1)
        time.sleep(0.2)
    assert second is not None, "rank 1 never started"
    time.sleep(5)  # a few steps in
    sent = time.monotonic()
    second.send_signal(signal.SIGTERM)
    output, _ = job.communicate(timeout=120)
    assert time.monotonic() - sent < 90
    stopped = [line for line in output.splitlines() if line.startswith("stopped: ")]
    assert len(stopped) == 2 and stopped[0] == stopped[1], output  # both ranks, at the same step
    step = json.loads((out / "progress.json").read_text())["step"]
    assert 0 < step < 500 and f"interrupted at step {step}," in stopped[0]
    resumed = run_job([*args, "--max-steps", str(step + 2)], tmp_path)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert f"s2: step {step + 2}, loss" in resumed.stdout
    assert json.loads((out / "progress.json").read_text())["step"] == step + 2


def test_a_rank_killed_mid_stage_restarts_and_the_run_resumes_by_itself(data: Path, tmp_path: Path) -> None:
    """``torchrun --max-restarts 1``: SIGKILL to rank 1 after the first checkpoint (a lost node, an OOM kill)."""
    steps = 24
    args = ["stage2", "--data", str(data), "--scribbles", "tiny_scribble_r1", "--out", "s2",
            "--train-split", "val2017", "--device", "cpu", "--workers", "0", "--backbone", "resnet18",
            "--crop-size", "32", "--batch-size", "2", "--epochs", "1000", "--checkpoint-every", "2",
            "--max-steps", str(steps), "--no-progress"]  # fmt: skip
    command = torchrun(*args)
    command[command.index("--standalone")] = "--max-restarts=1"
    command.insert(command.index("--max-restarts=1"), "--standalone")
    out = tmp_path / "s2"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    job = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (out / "progress.json").is_file():
        time.sleep(0.05)
    killed = json.loads((out / "progress.json").read_text())["step"]
    second = rank_process(job, 1)
    assert second is not None and killed < steps, "the run ended before the kill"
    second.send_signal(signal.SIGKILL)
    output, _ = job.communicate(timeout=240)
    assert job.returncode == 0, output
    assert "restart" in output.lower() or "Sending process" in output, output
    assert output.count(f"s2: step {steps}, loss") == 2  # both ranks of the restarted group
    progress = json.loads((out / "progress.json").read_text())
    assert progress["step"] == progress["last"]["step"] == steps
    assert len(list(tmp_path.rglob("progress.json"))) == 1 and not list(out.glob(".*.tmp"))

"""The device owner: one resolution of ``--device``, one join of the job, left however a stage ends."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
from click.testing import CliRunner

from csptrain.cli import main
from csptrain.errors import ConfigError
from csptrain.runtime import process as owner
from csptrain.runtime.process import joined, pick_device

PACKAGE = Path(owner.__file__).resolve().parents[1]


class FakeGroup:
    """Records what ``joined`` does to the process group (no real group: one test process)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls: list[str] = []
        self.up = False
        monkeypatch.setenv("WORLD_SIZE", "2")
        monkeypatch.setenv("RANK", "1")
        monkeypatch.setattr(owner, "_init_group", self.init)
        monkeypatch.setattr(dist, "is_initialized", lambda: self.up)
        monkeypatch.setattr(dist, "destroy_process_group", self.destroy)

    def init(self, backend: str, rank: int, world: int) -> None:
        self.calls.append(f"init {backend} {rank}/{world}")
        self.up = True

    def destroy(self) -> None:
        self.calls.append("destroy")
        self.up = False


def test_joined_leaves_the_group_it_joined_however_the_block_ends(monkeypatch: pytest.MonkeyPatch) -> None:
    group = FakeGroup(monkeypatch)
    with pytest.raises(RuntimeError, match="in the block"), joined("cpu") as process:
        assert (process.rank, process.world, process.device) == (1, 2, torch.device("cpu"))
        raise RuntimeError("in the block")
    assert group.calls == ["init gloo 1/2", "destroy"]
    group.up = True  # a group someone else joined is theirs to leave
    with joined("cpu"):
        pass
    assert group.calls == ["init gloo 1/2", "destroy"]


def test_a_stage_that_fails_before_its_loop_leaves_the_group(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    group = FakeGroup(monkeypatch)
    args = ["stage2", "--data", str(tmp_path), "--scribbles", "none", "--out", str(tmp_path / "out"), "--device", "cpu"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1, result.output
    assert group.calls == ["init gloo 1/2", "destroy"]


def test_pick_device_refuses_in_one_line() -> None:
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ConfigError, match="--device: unknown device 'gpu0'"):
        pick_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            pick_device("cuda")


def test_only_the_owner_joins_the_job_or_resolves_a_device() -> None:
    """Stages take the :class:`Process`: no other module starts a group or makes a device from a name."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "process.py" and path.parent.name == "runtime":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = ast.unparse(node.func)
                if name in {"torch.device", "pick_device", "dist.init_process_group", "dist.destroy_process_group"}:
                    offenders.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {name}")
    assert not offenders

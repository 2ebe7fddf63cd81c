"""README's CPU smoke commands, as written, on the embedded sample.

The build runs for real; ``csptrain run`` runs with ``--dry-run`` added, which parses every
option, reads the build and plans every step (the whole run takes minutes, see README).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from csptrain.cli import main as csptrain_main
from scribblesim.cli.main import main as scribblesim_main

README = Path(__file__).resolve().parents[1] / "README.md"


def smoke_commands() -> list[list[str]]:
    """The commands of README's smoke-run block, continuation lines joined."""
    text = README.read_text()
    block = re.search(r"A CPU smoke run.*?```bash\n(.*?)```", text, re.S)
    assert block, "README has no smoke-run block"
    joined = re.sub(r"\\\n\s*", " ", block.group(1))
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


def test_readme_smoke_commands_run_as_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = smoke_commands()
    assert [c[0] for c in commands] == ["scribblesim", "csptrain"]
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    build = runner.invoke(scribblesim_main, commands[0][1:])
    assert build.exit_code == 0, build.output
    plan = runner.invoke(csptrain_main, [*commands[1][1:], "--dry-run"])
    assert plan.exit_code == 0, plan.output
    seeds = commands[1][commands[1].index("--seeds") + 1 : commands[1].index("--seeds") + 3]
    for seed in seeds:  # every step of every seed is planned, none yet done
        for step in ("stage1", "pseudo", "stage2", "eval"):
            assert re.search(rf"r{seed}\b.*{step}.*todo", plan.output), (seed, step, plan.output)
    assert "evaluate stage 2: single-scale" in plan.output

"""A stop at any moment of a command line's process: during its imports, before its command
takes over, and after the command has ended (:mod:`scribblesim.cli.process`)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

HEADER = "import atexit, os, signal, sys, time\nimport click\nfrom scribblesim.cli.failures import OneLineErrors\n"


def run_module(tmp_path: Path, body: str) -> subprocess.CompletedProcess:
    """Run ``run_command("probe")`` on a module ``probe`` made of ``body``, as the entry points do."""
    (tmp_path / "probe.py").write_text(HEADER + body)
    code = "from scribblesim.cli.process import run_command; run_command('probe')"
    environment = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=environment, cwd=tmp_path
    )


@pytest.mark.parametrize(
    ("signum", "line"), [(signal.SIGINT, "error: interrupted\n"), (signal.SIGTERM, "error: terminated (SIGTERM)\n")]
)
def test_a_stop_during_the_imports_is_one_line(tmp_path: Path, signum: int, line: str) -> None:
    """The imports before a command take a second or more on a busy machine; a stop then was a traceback."""
    done = run_module(tmp_path, f"os.kill(os.getpid(), {int(signum)})\ntime.sleep(30)\nmain = None\n")
    assert (done.returncode, done.stderr) == (130, line)


def test_a_stop_before_the_command_took_over_stops_it_before_any_work(tmp_path: Path) -> None:
    """Between the imports and the command's own handlers a stop is held, and the command answers it first."""
    body = (
        "@click.group(cls=OneLineErrors)\ndef group() -> None:\n    pass\n\n"
        "@group.command()\ndef work() -> None:\n    open('worked', 'w').close()\n\n"
        "def main() -> None:\n    os.kill(os.getpid(), signal.SIGINT)\n    group(['work'])\n"
    )
    done = run_module(tmp_path, body)
    assert (done.returncode, done.stderr) == (130, "error: interrupted\n")
    assert not (tmp_path / "worked").exists()


def test_a_stop_after_the_command_ended_leaves_its_status(tmp_path: Path) -> None:
    """A stop while the interpreter shuts down found nothing to stop, yet ended the process
    silently by SIGINT. Once the command has ended, the stop signals are ignored by the
    operating system, not only by Python: the interpreter gives its handled signals back to
    their default action (death) as it shuts down."""
    body = (
        "sys.argv[1:] = ['work']\n\n"
        "def stop_at_exit() -> None:\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "    open('disposition', 'w').write(str([signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)]))\n\n"
        "@click.group(cls=OneLineErrors)\ndef main() -> None:\n    pass\n\n"
        "@main.command()\ndef work() -> None:\n    atexit.register(stop_at_exit)\n"
    )
    done = run_module(tmp_path, body)
    assert (done.returncode, done.stderr) == (0, "")
    assert (tmp_path / "disposition").read_text() == str([signal.SIG_IGN, signal.SIG_IGN])

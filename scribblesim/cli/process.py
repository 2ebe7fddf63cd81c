"""A command line as a process: a stop (Ctrl-C or SIGTERM) at any moment of its life ends it in one line.

:class:`~.failures.OneLineErrors` answers a stop while a command runs. This module covers
the rest of the process: the imports before the command (a second or more on a busy
machine) and the moments after the command has ended, when the interpreter shuts down.
It imports the standard library only, so that it is in place before any import worth
interrupting; both command lines' entry points (``scribblesim``, ``csptrain``) go through
:func:`run_command`.
"""

from __future__ import annotations

import importlib
import signal
import sys
from typing import NoReturn

#: Signals that stop a command as Ctrl-C does: the ones a user or a batch scheduler sends.
STOP_SIGNALS: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
#: Exit status after Ctrl-C or SIGTERM, as a shell reports SIGINT.
EXIT_INTERRUPTED = 130

_pending: list[int] = []


def stop_message(signals: list[int]) -> str:
    """What a stop by ``signals`` (the first decides) is called on its ``error:`` line."""
    return "terminated (SIGTERM)" if signals[:1] == [signal.SIGTERM] else "interrupted"


def take_pending_stops() -> list[int]:
    """The stop signals that arrived after the imports and before the command took over (then none)."""
    taken = _pending[:]
    _pending.clear()
    return taken


def _raise(signum: int, frame) -> None:
    _pending.append(signum)
    raise KeyboardInterrupt


def _record(signum: int, frame) -> None:
    _pending.append(signum)


def _install(handler) -> None:
    for signum in STOP_SIGNALS:
        signal.signal(signum, handler)


def run_command(module: str) -> NoReturn:
    """Import ``module`` and run its click command ``main`` as this process's command line.

    A stop during the imports ends the process in one line with status 130. One that arrives
    after them waits for the command, which answers it as it starts; one that arrives after
    the command has ended is ignored, as the command's work is done (without this, a
    Ctrl-C during the interpreter's shutdown ended the process silently by SIGINT).
    """
    _install(_raise)
    try:
        command = importlib.import_module(module).main
    except KeyboardInterrupt:
        print(f"error: {stop_message(_pending)}", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)
    _install(_record)
    try:
        command()
    finally:
        _install(signal.SIG_IGN)
    sys.exit(0)  # click's main exits itself; this is never reached

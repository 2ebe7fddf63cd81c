"""How failures reach the user, for both command lines (``scribblesim`` and ``csptrain``).

A user error (:class:`~scribblesim.errors.UserError` and its subclasses, csptrain's
included), an ``OSError`` or a bad option value becomes one ``error:`` line and exit status 2; Ctrl-C one line and status 130;
a warning one ``warning:`` line. Nothing here imports torch.

A stop may arrive inside a library's compiled code, which can turn the interrupt into an
exception of its own (pycocotools' RLE decoding raises ``TypeError`` there): so once a stop
signal has arrived, whatever the command raises counts as the stop.
"""

from __future__ import annotations

import signal
import sys
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import click

from ..errors import UserError
from ..parallel import stopping
from .options import ListOptionsCommand
from .process import EXIT_INTERRUPTED, STOP_SIGNALS, stop_message, take_pending_stops

#: Exit status of a failure the user can fix (bad input, a missing file).
EXIT_ERROR = 2


def fail(message: str) -> NoReturn:
    """Print one ``error:`` line and exit with status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def interrupted(message: str = "interrupted", label: str = "error") -> NoReturn:
    """Print one ``{label}:`` line and exit with status 130."""
    click.echo(f"{label}: {message}", err=True)
    sys.exit(EXIT_INTERRUPTED)


class _Stops:
    """The stop signals that arrived while a command ran (see :func:`_stops_interrupt`)."""

    def __init__(self) -> None:
        self.received: list[int] = []

    def handle(self, signum: int, frame) -> None:
        self.received.append(signum)
        if len(self.received) == 1:  # later ones must not break the clean-up the first one began
            stopping()
            raise KeyboardInterrupt

    @property
    def message(self) -> str:
        return stop_message(self.received)


@contextmanager
def _stops_interrupt(signals: tuple[int, ...]) -> Iterator[_Stops]:
    """While the block runs, each of ``signals`` raises ``KeyboardInterrupt`` once, and is recorded.

    The stops that reached the process before the block (see :mod:`.process`) are recorded
    as received, for the block to answer at once. Outside the main thread (where Python
    cannot handle signals) nothing is installed.
    """
    stops = _Stops()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {signum: signal.signal(signum, stops.handle) for signum in signals}
        stops.received.extend(take_pending_stops())
    try:
        yield stops
    finally:
        stopping(False)
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def os_error_line(error: OSError) -> str:
    """An ``OSError`` as ``path: reason``."""
    return f"{error.filename}: {error.strerror or error}" if error.filename else str(error)


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


class OneLineErrors(click.Group):
    """The command group of both command lines: every expected failure ends with one line and a status.

    A :class:`~scribblesim.errors.UserError`'s message is the whole story; subclasses may
    turn other exceptions into a line in :meth:`explain`. Its commands
    take numeric list options as ``--seeds 1 2 3`` (:mod:`.options`), and so do its subgroups'.
    """

    command_class = ListOptionsCommand
    group_class = type  # subgroups are of this class too
    #: Signals that stop a command as Ctrl-C does (one line, exit 130).
    stop_signals: tuple[int, ...] = STOP_SIGNALS

    def explain(self, error: Exception) -> str | None:
        """The ``error:`` line for ``error``, or None to let it propagate."""
        return None

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings(), _stops_interrupt(self.stop_signals) as stops:
            warnings.simplefilter("always", UserWarning)
            warnings.showwarning = _one_line_warning
            try:
                if stops.received:  # a stop that came before the command: answer it before any work
                    raise KeyboardInterrupt
                return super().invoke(ctx)
            except KeyboardInterrupt:
                interrupted(stops.message)
            except Exception as error:
                if stops.received:  # whatever a library raised while the stop was pending is the stop
                    interrupted(stops.message)
                line = self._line_for(error, ctx)
                if line is None:
                    raise
                fail(line)

    def _line_for(self, error: Exception, ctx: click.Context) -> str | None:
        """The ``error:`` line of an expected failure, or None for a bug (which stays a traceback)."""
        if isinstance(error, click.UsageError):  # a bad option value: one line too, with where to look
            command = error.ctx.command_path if error.ctx else ctx.command_path
            return f"{error.format_message()} (see {command} --help)"
        if isinstance(error, UserError):
            return str(error)
        if isinstance(error, OSError):
            return os_error_line(error)
        return self.explain(error)

"""How failures reach the user, for both command lines (``scribblesim`` and ``csptrain``).

A user error (:class:`~scribblesim.errors.UserError` and its subclasses, csptrain's
included), an ``OSError`` or a bad option value becomes one ``error:`` line and exit status 2; Ctrl-C one line and status 130;
a warning one ``warning:`` line. Nothing here imports torch.
"""

from __future__ import annotations

import sys
import warnings
from typing import NoReturn

import click

from ..errors import UserError
from .options import ListOptionsCommand

#: Exit status of a failure the user can fix (bad input, a missing file).
EXIT_ERROR = 2
#: Exit status after Ctrl-C or SIGTERM, as a shell reports SIGINT.
EXIT_INTERRUPTED = 130


def fail(message: str) -> NoReturn:
    """Print one ``error:`` line and exit with status 2."""
    click.echo(f"error: {message}", err=True)
    sys.exit(EXIT_ERROR)


def interrupted(message: str = "interrupted", label: str = "error") -> NoReturn:
    """Print one ``{label}:`` line and exit with status 130."""
    click.echo(f"{label}: {message}", err=True)
    sys.exit(EXIT_INTERRUPTED)


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

    def explain(self, error: Exception) -> str | None:
        """The ``error:`` line for ``error``, or None to let it propagate."""
        return None

    def invoke(self, ctx: click.Context):
        with warnings.catch_warnings():
            warnings.simplefilter("always", UserWarning)
            warnings.showwarning = _one_line_warning
            try:
                return super().invoke(ctx)
            except KeyboardInterrupt:
                interrupted()
            except click.UsageError as error:  # a bad option value: one line too, with where to look
                command = error.ctx.command_path if error.ctx else ctx.command_path
                fail(f"{error.format_message()} (see {command} --help)")
            except UserError as error:
                fail(str(error))
            except OSError as error:
                fail(os_error_line(error))
            except Exception as error:
                line = self.explain(error)
                if line is None:
                    raise
                fail(line)

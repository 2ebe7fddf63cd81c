"""The errors a user can fix, for both packages: each message names the file or argument.

Both command lines print any :class:`UserError` as one ``error:`` line and exit 2
(:mod:`scribblesim.cli.failures`); every other exception is a bug and stays a traceback.
csptrain's errors (:mod:`csptrain.errors`) subclass these.
"""

from __future__ import annotations


class UserError(Exception):
    """A problem the user can fix; the message names the file or argument at fault."""


class DatasetError(UserError):
    """Input data that cannot be used: a missing, corrupt or inconsistent dataset file."""


class LayoutError(DatasetError):
    """An output folder that does not fit the command: built with other options, or not a build."""


class ConfigError(UserError, ValueError):
    """A setting, option or argument value out of range or unknown.

    Also a ``ValueError``, as Python code that passes a bad argument expects.
    """

"""One shape for options that take several values, in both command lines.

A list option (``multiple=True``, of a type that tells its values from other words:
numbers, scribble-set tags) takes its values after one flag, ``--seeds 1 2 3``, or
repeated, ``--seeds 1 --seeds 2 --seeds 3``; both mean the same. The values run up to the
first word that is not a value of the option's type (another option, or a positional
argument). Free-text options (``--ids``) are repeated or comma-separated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import click

from ..parallel import usable_cores
from ..sets.files import LABEL_PNG_MODES


class SetTag(click.ParamType):
    """A scribble set's tag: a seed or ``human`` (a build's human set), maybe with a suffix
    (``1``, ``0``, ``1_shrink0.5_drop0.3``, ``human``, ``human_shrink0.5``)."""

    name = "tag"

    def convert(self, value, param, ctx) -> str:
        text = str(value)
        if not re.fullmatch(r"(\d+|human)(_[A-Za-z0-9._]+)?", text):
            self.fail(f"not a seed or set tag: {text!r}", param, ctx)
        return text


SET_TAG = SetTag()


class Jobs(click.types.IntParamType):
    """A worker count: a positive number, or -1 for all cores (joblib's convention)."""

    name = "integer"

    def convert(self, value, param, ctx) -> int:
        jobs = super().convert(value, param, ctx)
        if jobs == 0 or jobs < -1:
            self.fail(f"must be a positive number of workers or -1, got {jobs}", param, ctx)
        return jobs


#: A seed (annotator, random stream): a non-negative integer.
SEED = click.IntRange(min=0)
JOBS = Jobs()


def jobs_option(help: str):
    """``--jobs``, by default the cores this process may use (its CPU affinity)."""
    return click.option(
        "--jobs", type=JOBS, default=usable_cores(), show_default="the cores this process may use", help=help
    )


#: Types whose values are told apart from other words, so that they can follow one flag.
_LIST_TYPES = (click.types.IntParamType, click.types.FloatParamType, SetTag)


def _list_options(command: click.Command) -> dict[str, click.Option]:
    """Flag name -> option, for every list option of ``command``."""
    return {
        name: param
        for param in command.params
        if isinstance(param, click.Option) and param.multiple and isinstance(param.type, _LIST_TYPES)
        for name in param.opts
    }


def _is_value(option: click.Option, token: str) -> bool:
    if token.startswith("-") and not token.lstrip("-").replace(".", "", 1).isdigit():
        return False
    try:
        option.type.convert(token, option, None)
    except click.BadParameter:
        return False
    return True


def expand_list_options(command: click.Command, args: Sequence[str]) -> list[str]:
    """``args`` with ``--flag a b c`` of a list option rewritten as ``--flag a --flag b --flag c``."""
    options = _list_options(command)
    expanded: list[str] = []
    position = 0
    while position < len(args):
        token = args[position]
        if token == "--":
            return expanded + list(args[position:])
        expanded.append(token)
        position += 1
        if token not in options or position == len(args):
            continue
        expanded.append(args[position])  # the first value, whatever it is: click checks it
        position += 1
        while position < len(args) and _is_value(options[token], args[position]):
            expanded += [token, args[position]]
            position += 1
    return expanded


class ListOptionsCommand(click.Command):
    """A command whose list options take ``--flag a b c`` (see the module docstring)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_list_options(self, args))


#: ``--label-png`` of the commands that write a scribble set into an existing output.
label_png_option = click.option(
    "--label-png",
    type=click.Choice(LABEL_PNG_MODES),
    default=None,
    help="Label PNG mode (gray or palette); default: the one OUT holds (gray for a new folder). Must match OUT's.",
)

"""One convention for both command lines: list options, one-line usage errors."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from csptrain.cli import main as csptrain_main
from csptrain.errors import RunFolderError, WeightsError
from scribblesim.cli.failures import OneLineErrors
from scribblesim.cli.main import main as scribblesim_main
from scribblesim.cli.options import expand_list_options
from scribblesim.errors import ConfigError, DatasetError, UserError


def parsed(group: click.Group, path: list[str], args: list[str]) -> dict:
    """The parameters a subcommand of ``group`` receives for ``args`` (nothing runs)."""
    command: click.Command = group
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    # The command lines' own help names: click caches a command's help option on first use,
    # and a later test's ``-h`` must still find it.
    with command.make_context(" ".join(path), list(args), help_option_names=["-h", "--help"]) as ctx:
        return ctx.params


@pytest.mark.parametrize(
    ("group", "path", "listed", "repeated", "name", "expected"),
    [
        (
            scribblesim_main,
            ["build", "coco"],
            ["--seeds", "1", "2", "3"],
            ["--seeds", "1", "--seeds", "2", "--seeds", "3"],
            "seeds",
            (1, 2, 3),
        ),
        (
            scribblesim_main,
            ["preview"],
            ["OUT", "--seeds", "1", "1_shrink0.5", "--out", "P"],
            ["OUT", "--seed", "1", "--seed", "1_shrink0.5", "--out", "P"],
            "seeds",
            ("1", "1_shrink0.5"),
        ),
        (
            csptrain_main,
            ["eval"],
            ["--data", "D", "--checkpoint", "C", "--scales", "0.75", "1", "1.25"],
            ["--data", "D", "--checkpoint", "C", "--scales", "0.75", "--scales", "1", "--scales", "1.25"],
            "scales",
            (0.75, 1.0, 1.25),
        ),
        (
            csptrain_main,
            ["run"],
            ["--data", "D", "--out", "R", "--seeds", "1", "2", "--scales", "1", "2"],
            ["--data", "D", "--out", "R", "--scales", "1", "--seeds", "1", "--seeds", "2", "--scales", "2"],
            "seeds",
            (1, 2),
        ),
    ],
)
def test_list_options_take_values_after_one_flag_or_repeated(group, path, listed, repeated, name, expected) -> None:
    one_flag, again = parsed(group, path, listed), parsed(group, path, repeated)
    assert one_flag[name] == again[name] == expected
    assert one_flag == again


def test_list_values_stop_at_the_first_word_of_another_kind() -> None:
    preview = scribblesim_main.commands["preview"]
    assert expand_list_options(preview, ["--seeds", "1", "2", "OUT", "--out", "P"]) == [
        "--seeds",
        "1",
        "--seeds",
        "2",
        "OUT",
        "--out",
        "P",
    ]
    assert parsed(scribblesim_main, ["preview"], ["--seeds", "1", "2", "OUT", "--out", "P"])["out"].name == "OUT"
    assert expand_list_options(preview, ["OUT", "--ids", "a", "b"]) == ["OUT", "--ids", "a", "b"]  # free text repeats
    assert expand_list_options(preview, ["OUT", "--", "--seeds", "1", "2"]) == ["OUT", "--", "--seeds", "1", "2"]


@pytest.mark.parametrize(
    ("group", "args", "line"),
    [
        (
            scribblesim_main,
            ["build", "coco", "--jobs", "x"],
            "error: Invalid value for '--jobs': 'x' is not a valid integer. (see main build coco --help)\n",
        ),
        (scribblesim_main, ["nope"], "error: No such command 'nope'. (see main --help)\n"),
        (
            csptrain_main,
            ["eval", "--data", "D", "--checkpoint", "C", "--protocol", "nope"],
            "error: Invalid value for '--protocol': 'nope' is not one of 'authors', 'single-scale'. (see main eval --help)\n",
        ),
        (csptrain_main, ["stage2", "--data", "D"], "error: Missing option '--scribbles'. (see main stage2 --help)\n"),
    ],
)
def test_usage_errors_are_one_line(group, args, line) -> None:
    result = CliRunner().invoke(group, args)
    assert result.exit_code == 2 and result.stderr == line and result.stdout == ""


@pytest.mark.parametrize(
    ("error", "exit_code", "line"),
    [
        (DatasetError("data/x.json: not valid JSON"), 2, "error: data/x.json: not valid JSON\n"),
        (ConfigError("--width: must be >= 1, got 0"), 2, "error: --width: must be >= 1, got 0\n"),
        (WeightsError("w.pt: unreadable weights file"), 2, "error: w.pt: unreadable weights file\n"),
        (RunFolderError("runs/r1: holds other labels"), 2, "error: runs/r1: holds other labels\n"),
    ],
)
def test_user_errors_of_both_packages_are_one_line(error: Exception, exit_code: int, line: str) -> None:
    @click.group(cls=OneLineErrors)
    def group() -> None:
        pass

    @group.command("go")
    def go() -> None:
        raise error

    result = CliRunner().invoke(group, ["go"])
    assert result.exit_code == exit_code and result.stderr == line


def test_a_value_error_from_a_bug_stays_a_traceback() -> None:
    """Only user errors become one line: a ValueError deep in a library is a bug to see whole."""

    @click.group(cls=OneLineErrors)
    def group() -> None:
        pass

    @group.command("go")
    def go() -> None:
        int("not a number")

    result = CliRunner().invoke(group, ["go"])
    assert result.exit_code == 1 and isinstance(result.exception, ValueError)
    assert not isinstance(result.exception, UserError) and "error:" not in result.stderr

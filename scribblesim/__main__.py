"""``python -m scribblesim`` (and the ``scribblesim`` command) runs the command line."""

from .cli.process import run_command


def main() -> None:
    """The ``scribblesim`` command line, as a process (see :mod:`scribblesim.cli.process`)."""
    run_command("scribblesim.cli.main")


if __name__ == "__main__":
    main()

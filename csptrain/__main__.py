"""``python -m csptrain`` (and the ``csptrain`` command) runs the command line."""

from scribblesim.cli.process import run_command


def main() -> None:
    """The ``csptrain`` command line, as a process (see :mod:`scribblesim.cli.process`)."""
    run_command("csptrain.cli")


if __name__ == "__main__":
    main()

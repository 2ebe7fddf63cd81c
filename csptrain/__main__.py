"""``python -m csptrain`` runs the command line."""

from .cli import main

main()

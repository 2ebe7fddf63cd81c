"""``python -m scribblesim`` runs the command line."""

from .cli import main

main()

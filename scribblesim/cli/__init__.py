"""The ``scribblesim`` command line (:func:`main`)."""

from .main import main

__all__ = ["main"]

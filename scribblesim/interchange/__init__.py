"""Scribbles in and out of the annotation tools people use, read and written with the tools' own code.

Each module owns one tool's format and needs the ``interchange`` extra
(``pip install 'scribblesim[interchange]'``); core scribblesim does not import them.
"""

"""The ``scribblesim`` command line: its commands in :mod:`.main`, run as a process by :mod:`.process`.

Nothing is imported here, so that the process can answer a stop before the commands' imports.
"""

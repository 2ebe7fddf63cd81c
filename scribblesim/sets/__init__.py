"""Scribble sets on disk: the output layout, the build writer, readers, degrade and import."""

"""Training data read from a ``scribblesim build`` folder, for both stages."""

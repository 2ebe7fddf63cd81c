"""Stage 1: scribble-promoted ToCo and its pseudo-labels."""

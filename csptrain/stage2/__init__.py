"""Stage 2: DeepLabV3+ trained on scribbles and pseudo-labels with LoRM and DPM."""

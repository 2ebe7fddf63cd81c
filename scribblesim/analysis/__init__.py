"""Looking at scribble sets: statistics and previews."""

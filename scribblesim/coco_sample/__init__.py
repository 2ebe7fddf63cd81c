"""The embedded COCO sample, shipped as package data (see ATTRIBUTION.md)."""

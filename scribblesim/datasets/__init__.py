"""Dataset adapters: turn instance-annotated datasets into per-image samples."""

from .base import DatasetError, LoadedSample

__all__ = ["DatasetError", "LoadedSample"]

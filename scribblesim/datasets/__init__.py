"""Dataset adapters: turn instance-annotated datasets into per-image samples."""

from ..errors import DatasetError
from .base import LoadedSample

__all__ = ["DatasetError", "LoadedSample"]

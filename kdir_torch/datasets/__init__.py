"""Datasets: legacy ``KerasDirDataset`` and the modern directory dataset."""

from .keras_dir import KerasDirDataset
from .modern import ModernDirDataset

__all__ = ["KerasDirDataset", "ModernDirDataset"]

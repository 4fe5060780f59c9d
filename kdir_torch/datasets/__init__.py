"""Datasets: legacy ``KerasDirDataset`` and the modern directory dataset."""

from .keras_dir import KerasDirDataset
from .modern import BatchedDataset, ModernDirDataset

__all__ = ["BatchedDataset", "KerasDirDataset", "ModernDirDataset"]

"""Datasets: legacy ``KerasDirDataset`` and the modern directory dataset."""

from .keras_dir import KerasDirDataset

__all__ = ["KerasDirDataset"]

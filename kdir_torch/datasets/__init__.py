"""Datasets: legacy ``KerasDirDataset`` and ``KerasDataFrameDataset``, and the modern directory dataset."""

from .dataframe import KerasDataFrameDataset
from .keras_dir import KerasDirDataset
from .modern import ModernDirDataset

__all__ = ["KerasDataFrameDataset", "KerasDirDataset", "ModernDirDataset"]

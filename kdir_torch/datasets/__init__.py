"""Datasets: legacy ``KerasDirDataset`` and ``KerasDataFrameDataset``, the modern directory
dataset, and their parts (``split``, ``take``, ``concat``)."""

from .classmap import class_weights, load_class_indices
from .concat import concat
from .dataframe import KerasDataFrameDataset
from .keras_dir import KerasDirDataset
from .modern import ModernDirDataset
from .subsets import split, take

__all__ = ["KerasDataFrameDataset", "KerasDirDataset", "ModernDirDataset", "class_weights",
           "concat", "load_class_indices", "split", "take"]

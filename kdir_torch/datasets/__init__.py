"""Datasets: legacy ``KerasDirDataset``, the modern directory dataset, and their parts."""

from .classmap import class_weights, load_class_indices
from .concat import concat
from .keras_dir import KerasDirDataset
from .modern import ModernDirDataset
from .subsets import split, take

__all__ = ["KerasDirDataset", "ModernDirDataset", "class_weights", "concat",
           "load_class_indices", "split", "take"]

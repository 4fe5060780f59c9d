"""Keras-shaped facades: ``ImageDataGenerator``, ``DirectoryIterator``, ``image_dataset_from_directory``.

They only compose the layers below (index, io, augment, standardize, datasets, loader).
"""

from .batched import BatchedDataset
from .directory_iterator import DirectoryIterator
from .image_data_generator import ImageDataGenerator
from .modern import image_dataset_from_directory

__all__ = ["BatchedDataset", "DirectoryIterator", "ImageDataGenerator", "image_dataset_from_directory"]

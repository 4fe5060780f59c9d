"""Keras-shaped facades: ``ImageDataGenerator``, ``DirectoryIterator``, ``image_dataset_from_directory``,
and Keras's module-level image utilities (``load_img`` ...).

They only compose the layers below (index, io, augment, standardize, datasets, loader).
"""

from .directory_iterator import DirectoryIterator
from .image_data_generator import ImageDataGenerator
from .image_utils import (
    array_to_img,
    img_to_array,
    list_pictures,
    load_img,
    save_img,
    smart_resize,
    validate_filename,
)
from .modern import image_dataset_from_directory

__all__ = [
    "DirectoryIterator",
    "ImageDataGenerator",
    "array_to_img",
    "image_dataset_from_directory",
    "img_to_array",
    "list_pictures",
    "load_img",
    "save_img",
    "smart_resize",
    "validate_filename",
]

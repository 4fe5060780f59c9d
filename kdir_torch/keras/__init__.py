"""Keras-shaped facades: ``ImageDataGenerator``, ``DirectoryIterator``, ``image_dataset_from_directory``,
and Keras's module-level image utilities (``load_img`` ...) and transforms (``random_rotation`` ...).

They only compose the layers below (index, io, augment, standardize, datasets, loader).
"""

from .array_iterator import NumpyArrayIterator
from .batched import BatchedDataset
from .dataframe_iterator import DataFrameIterator
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
from .transforms import (
    apply_affine_transform,
    apply_brightness_shift,
    apply_channel_shift,
    flip_axis,
    random_brightness,
    random_channel_shift,
    random_rotation,
    random_shear,
    random_shift,
    random_zoom,
    transform_matrix_offset_center,
)

__all__ = [
    "BatchedDataset",
    "DataFrameIterator",
    "DirectoryIterator",
    "ImageDataGenerator",
    "NumpyArrayIterator",
    "apply_affine_transform",
    "apply_brightness_shift",
    "apply_channel_shift",
    "array_to_img",
    "flip_axis",
    "image_dataset_from_directory",
    "img_to_array",
    "list_pictures",
    "load_img",
    "random_brightness",
    "random_channel_shift",
    "random_rotation",
    "random_shear",
    "random_shift",
    "random_zoom",
    "save_img",
    "smart_resize",
    "transform_matrix_offset_center",
    "validate_filename",
]

"""kdir_torch: Keras's image-directory datasets, ported to PyTorch.

See README.md for the Keras -> kdir_torch porting table.
"""

from .augment import Augment, AugmentParams
from .datasets import (
    KerasDataFrameDataset,
    KerasDirDataset,
    ModernDirDataset,
    class_weights,
    concat,
    load_class_indices,
    split,
)
from .errors import ImageDecodeError
from .grid import save_grid, show_batch
from .index import DirectoryIndex, index_directory
from .keras import (
    BatchedDataset,
    DataFrameIterator,
    DirectoryIterator,
    ImageDataGenerator,
    NumpyArrayIterator,
    apply_affine_transform,
    apply_brightness_shift,
    apply_channel_shift,
    array_to_img,
    flip_axis,
    image_dataset_from_directory,
    img_to_array,
    list_pictures,
    load_img,
    random_brightness,
    random_channel_shift,
    random_rotation,
    random_shear,
    random_shift,
    random_zoom,
    save_img,
    smart_resize,
    transform_matrix_offset_center,
    validate_filename,
)
from .loader import gather_predictions, make_loader, predict
from .standardize import Standardizer

__version__ = "0.1.0"

__all__ = [
    "Augment",
    "AugmentParams",
    "BatchedDataset",
    "DataFrameIterator",
    "DirectoryIndex",
    "DirectoryIterator",
    "ImageDataGenerator",
    "ImageDecodeError",
    "KerasDataFrameDataset",
    "KerasDirDataset",
    "ModernDirDataset",
    "NumpyArrayIterator",
    "Standardizer",
    "apply_affine_transform",
    "apply_brightness_shift",
    "apply_channel_shift",
    "array_to_img",
    "class_weights",
    "concat",
    "flip_axis",
    "gather_predictions",
    "image_dataset_from_directory",
    "img_to_array",
    "index_directory",
    "list_pictures",
    "load_class_indices",
    "load_img",
    "make_loader",
    "predict",
    "random_brightness",
    "random_channel_shift",
    "random_rotation",
    "random_shear",
    "random_shift",
    "random_zoom",
    "save_grid",
    "save_img",
    "show_batch",
    "smart_resize",
    "split",
    "transform_matrix_offset_center",
    "validate_filename",
]

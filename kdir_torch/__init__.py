"""kdir_torch: Keras's image-directory datasets, ported to PyTorch.

See README.md for the Keras -> kdir_torch porting table.
"""

from .augment import Augment, AugmentParams
from .datasets import KerasDirDataset, ModernDirDataset
from .errors import ImageDecodeError
from .index import DirectoryIndex, index_directory
from .keras import BatchedDataset, DirectoryIterator, ImageDataGenerator, image_dataset_from_directory
from .loader import gather_predictions, make_loader
from .standardize import Standardizer

__version__ = "0.1.0"

__all__ = [
    "Augment",
    "AugmentParams",
    "BatchedDataset",
    "DirectoryIndex",
    "DirectoryIterator",
    "ImageDataGenerator",
    "ImageDecodeError",
    "KerasDirDataset",
    "ModernDirDataset",
    "Standardizer",
    "gather_predictions",
    "image_dataset_from_directory",
    "index_directory",
    "make_loader",
]

"""kdir_torch: Keras's image-directory datasets, ported to PyTorch.

See README.md for the Keras -> kdir_torch porting table.
"""

from .datasets import KerasDirDataset
from .errors import ImageDecodeError
from .index import DirectoryIndex, index_directory

__version__ = "0.1.0"

__all__ = sorted([
    "DirectoryIndex",
    "ImageDecodeError",
    "KerasDirDataset",
    "index_directory",
])

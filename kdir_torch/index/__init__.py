"""Directory walking, class discovery and splits; compact storage (no images here)."""

from .directory_index import DirectoryIndex, index_directory
from .strings import StringTable
from .walk import LEGACY_EXTENSIONS, MODERN_EXTENSIONS, list_files

__all__ = [
    "LEGACY_EXTENSIONS", "MODERN_EXTENSIONS", "DirectoryIndex", "StringTable",
    "index_directory", "list_files",
]

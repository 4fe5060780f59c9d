"""Image decoding and resizing into arrays (no knowledge of folders or labels)."""

from .legacy import PIL_FILTERS, InterpolationError, convert_mode, crop_box, load_array, resize

__all__ = [
    "PIL_FILTERS", "InterpolationError", "convert_mode", "crop_box", "load_array", "resize",
]

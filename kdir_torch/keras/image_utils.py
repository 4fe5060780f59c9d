"""Keras's image file utilities: ``load_img``, ``save_img``, ``list_pictures``, ``validate_filename``.

Keras 3's ``keras.utils`` functions (keras-semantics §A8, Part C), same arguments, defaults,
pixels and error texts; ``img_to_array``, ``array_to_img`` and ``smart_resize`` live in
:mod:`kdir_torch.keras.image_arrays` and are re-exported here, so this module mirrors
``keras.utils.image_utils``. Additions:

* ``load_img(..., grayscale=True)``: Keras 2's deprecated spelling of
  ``color_mode="grayscale"``, with Keras 2's warning (Keras 3 removed the argument).
* ``load_img`` also takes any ``os.PathLike`` and binary file objects (Keras 3: str, bytes,
  ``pathlib.Path`` and ``io.BytesIO`` only).
* ``load_img(..., as_tensor=True, data_format=None, dtype=None)`` returns
  ``img_to_array(load_img(...), data_format, dtype)`` as a torch tensor (decoded straight into
  the requested layout by :func:`kdir_torch.io.load_array`).
* ``list_pictures`` (keras-preprocessing's; Keras 3 dropped it) and ``validate_filename``
  (Keras 3's legacy module) behave as there.
"""

from __future__ import annotations

import io
import os
import pathlib
import warnings
from collections.abc import Iterable
from typing import Any

import torch
from PIL import Image

from kdir_torch._validation import check_bool
from kdir_torch.io import convert_mode, load_array, resize
from kdir_torch.keras._array_helpers import split_dtype, standardize_data_format
from kdir_torch.keras.image_arrays import array_to_img, img_to_array, smart_resize

__all__ = [
    "array_to_img",
    "img_to_array",
    "list_pictures",
    "load_img",
    "save_img",
    "smart_resize",
    "validate_filename",
]

_COLOR_MODES = ("grayscale", "rgb", "rgba")
PICTURE_EXTENSIONS = ("jpg", "jpeg", "bmp", "png", "ppm", "tif", "tiff")


def _source(path: Any) -> Any:
    """What PIL opens: a file object as given, or a path's bytes read into memory (as Keras).

    Raises:
        TypeError: Keras's ``path should be path-like or io.BytesIO, not <type>``.
    """
    if isinstance(path, io.BytesIO) or hasattr(path, "read"):
        return path
    if isinstance(path, (str, bytes, os.PathLike)):
        if isinstance(path, pathlib.Path):
            path = str(path.resolve())
        with open(path, "rb") as f:
            return io.BytesIO(f.read())
    raise TypeError(f"path should be path-like or io.BytesIO, not {type(path)}")


def load_img(
    path: Any,
    color_mode: str = "rgb",
    target_size: tuple[int, int] | None = None,
    interpolation: str = "nearest",
    keep_aspect_ratio: bool = False,
    grayscale: bool = False,
    *,
    as_tensor: bool = False,
    data_format: str | None = None,
    dtype: Any = None,
) -> Image.Image | torch.Tensor:
    """Load an image as ``keras.utils.load_img`` does (keras-semantics §A8).

    PIL sniffs the format from the content (first frame of multi-frame files; no EXIF
    rotation). "grayscale" keeps "L", "I;16" and "I" images and converts anything else to
    "L"; "rgb" / "rgba" convert with PIL (alpha dropped, not composited). The image is resized
    only when ``target_size`` differs from its size, and only then is ``interpolation``
    checked. ``keep_aspect_ratio`` first centre-crops to the target aspect ratio (Keras's
    integer box).

    Args:
        path: str, bytes or ``os.PathLike`` path, ``io.BytesIO`` or a binary file object.
        color_mode: "grayscale", "rgb" or "rgba".
        target_size: ``(height, width)`` or None (keep the size).
        interpolation: nearest, bilinear, bicubic, hamming, box or lanczos (PIL filters).
        keep_aspect_ratio: crop to the target aspect ratio before resizing.
        grayscale: deprecated (Keras 2): True means ``color_mode="grayscale"``.
        as_tensor: return ``img_to_array(img, data_format, dtype)`` as a torch tensor.
        data_format: with ``as_tensor``: "channels_last" (None) or "channels_first".
        dtype: with ``as_tensor``: numpy or torch dtype (None: float32).

    Returns:
        A PIL image; with ``as_tensor`` a CPU tensor ``(H, W, C)`` / ``(C, H, W)`` of ``dtype``
        (values not scaled).

    Raises:
        TypeError: unsupported ``path`` type (Keras's text).
        ValueError: bad ``color_mode`` or ``interpolation`` (Keras's texts), or
            ``data_format`` / ``dtype`` given without ``as_tensor``.
        OSError: missing or undecodable file (PIL's ``UnidentifiedImageError``).

    Warns:
        UserWarning: Keras 2's ``grayscale is deprecated...`` when ``grayscale`` is True.
    """
    as_tensor = check_bool("as_tensor", as_tensor)
    if grayscale:
        warnings.warn('grayscale is deprecated. Please use color_mode = "grayscale"', stacklevel=2)
        color_mode = "grayscale"
    if color_mode not in _COLOR_MODES:
        raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')
    if not as_tensor:
        if data_format is not None or dtype is not None:
            raise ValueError("`data_format` and `dtype` apply only with `as_tensor=True`.")
        img = Image.open(_source(path))
        return resize(convert_mode(img, color_mode), target_size, interpolation, keep_aspect_ratio)
    first = standardize_data_format(data_format) == "channels_first"
    np_dtype, torch_dtype = split_dtype(dtype)
    arr = load_array(_source(path), color_mode, target_size, interpolation, keep_aspect_ratio,
                     channels_first=first, formats=None)
    t = torch.from_numpy(arr.astype(np_dtype))
    return t if torch_dtype is None else t.to(torch_dtype)


def save_img(
    path: Any,
    x: Any,
    data_format: str | None = None,
    file_format: str | None = None,
    scale: bool = True,
    **kwargs: Any,
) -> None:
    """Save a single image array to a path or file object, as ``keras.utils.save_img`` (Keras 3).

    The format is the lower-cased path suffix unless ``file_format`` is given ("jpg" means
    "jpeg"); pixels are :func:`array_to_img`'s. An RGBA image saved as "jpeg" is converted to
    RGB with Keras's warning.

    Args:
        path: str / ``os.PathLike`` path or a writable binary file object (then give
            ``file_format``).
        x: rank-3 array or tensor in ``data_format``.
        data_format: "channels_last" (None) or "channels_first".
        file_format: PIL format name, or None to infer it from ``path``.
        scale: min-max scale the values to 0..255 (:func:`array_to_img`).
        **kwargs: passed to ``PIL.Image.Image.save`` (e.g. ``quality``).

    Raises:
        ValueError: bad ``data_format``, rank or channel count (Keras's texts); PIL's errors
            for an unknown format.

    Warns:
        UserWarning: "The JPEG format does not support RGBA images, converting to RGB."
    """
    data_format = standardize_data_format(data_format)
    if file_format is None and isinstance(path, (str, os.PathLike)):
        file_format = pathlib.Path(path).suffix[1:].lower()
    if file_format and file_format.lower() == "jpg":
        file_format = "jpeg"
    img = array_to_img(x, data_format=data_format, scale=scale)
    if img.mode == "RGBA" and file_format == "jpeg":
        warnings.warn("The JPEG format does not support RGBA images, converting to RGB.",
                      stacklevel=2)
        img = img.convert("RGB")
    img.save(path, format=file_format, **kwargs)


def list_pictures(directory: str | os.PathLike, ext: str | Iterable[str] = PICTURE_EXTENSIONS) -> list[str]:
    """All files under ``directory`` whose lower-cased name ends with ``"." + ext``.

    keras-preprocessing's ``list_pictures``: ``os.walk`` order (not sorted), subfolders
    included, the extensions themselves compared as given (so ``ext="JPG"`` matches nothing,
    as there).

    Args:
        directory: folder to walk.
        ext: one extension or several, without the dot.

    Returns:
        ``os.path.join(root, name)`` strings.
    """
    suffixes = tuple(f".{e}" for e in ((ext,) if isinstance(ext, str) else ext))
    return [
        os.path.join(root, name)
        for root, _, names in os.walk(directory)
        for name in names
        if name.lower().endswith(suffixes)
    ]


def validate_filename(filename: str | os.PathLike, white_list_formats: str | Iterable[str]) -> bool:
    """Whether ``filename`` ends with an allowed extension and is an existing file (Keras's rule).

    Args:
        filename: path of the file.
        white_list_formats: an extension or several, without the dot, lower case
            (compared with the lower-cased name; a set or list is accepted too).

    Returns:
        True when the lower-cased name ends with one of them and ``os.path.isfile`` holds.
    """
    name = os.fspath(filename)
    formats = (white_list_formats,) if isinstance(white_list_formats, str) else tuple(white_list_formats)
    return name.lower().endswith(formats) and os.path.isfile(name)


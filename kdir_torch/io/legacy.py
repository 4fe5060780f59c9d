"""Legacy image loading: Keras's ``load_img`` + ``img_to_array`` with PIL (keras-semantics §A8).

Pixels equal ``img_to_array(load_img(...))`` bit for bit: the same PIL colour conversions, the
same resize filters and the same ``keep_aspect_ratio`` crop box. No EXIF rotation (as Keras).
``jpeg_draft=True`` (not Keras) trades that for speed on large JPEGs (``draft_box``). Colour
JPEGs loaded as "rgb" with the nearest filter are decoded by torchvision's libjpeg-turbo when
it is installed: the same pixels, cheaper (``turbo_jpeg``).
"""

from __future__ import annotations

import os
from typing import BinaryIO

import numpy as np
from PIL import Image

from . import turbo_jpeg
from .files import LEGACY_FORMATS, open_image, open_regular
from .jpeg_draft import draft_scale, request_draft

PIL_FILTERS = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "hamming": Image.Resampling.HAMMING,
    "box": Image.Resampling.BOX,
    "lanczos": Image.Resampling.LANCZOS,
}
_KEEP_GRAY = ("L", "I;16", "I")


class InterpolationError(ValueError):
    """``load_img``'s error for an unknown filter name, raised only when a resize needs it.

    The message is Keras's text (keras-semantics §A8.3, §A16); a dataset appends the sample and
    file. A configuration error, not a file fault: ``on_error="skip"`` never skips it.
    """


def interpolation_message(interpolation: object) -> str:
    """Keras's ``load_img`` text for an unsupported ``interpolation`` (§A16)."""
    return (f"Invalid interpolation method {interpolation} specified. Supported methods are "
            f"{', '.join(PIL_FILTERS)}")


def convert_mode(img: Image.Image, color_mode: str) -> Image.Image:
    """Keras's colour conversion (§A8.2): grayscale keeps L / I;16 / I, rgb drops alpha."""
    if color_mode == "grayscale":
        return img if img.mode in _KEEP_GRAY else img.convert("L")
    if color_mode == "rgba":
        return img if img.mode == "RGBA" else img.convert("RGBA")
    if color_mode == "rgb":
        return img if img.mode == "RGB" else img.convert("RGB")
    raise ValueError('color_mode must be "grayscale", "rgb", or "rgba"')


def crop_box(width: int, height: int, target_w: int, target_h: int) -> tuple[int, int, int, int]:
    """Keras's ``keep_aspect_ratio`` centre-crop box ``(left, top, right, bottom)`` (§A8.3)."""
    crop_h = min(height, (width * target_h) // target_w)
    crop_w = min(width, (height * target_w) // target_h)
    top = (height - crop_h) // 2
    left = (width - crop_w) // 2
    return (left, top, left + crop_w, top + crop_h)


def resize_region(width: int, height: int, target_size: tuple[int, int],
                  keep_aspect_ratio: bool) -> tuple[int, int, int, int]:
    """The source box ``(left, top, right, bottom)`` that ``load_img`` resizes to
    ``target_size`` (``(height, width)``): Keras's crop box, or the whole image (§A8.3)."""
    if keep_aspect_ratio:
        return crop_box(width, height, target_size[1], target_size[0])
    return (0, 0, width, height)


def resize(img: Image.Image, target_size: tuple[int, int] | None, interpolation: str,
           keep_aspect_ratio: bool) -> Image.Image:
    """Resize like ``load_img`` (§A8.3): only when the size differs; then check the filter name.

    Raises:
        InterpolationError: a resize is needed and ``interpolation`` is not a PIL filter name.
    """
    if target_size is None:
        return img
    size = (target_size[1], target_size[0])
    if img.size == size:
        return img
    if not isinstance(interpolation, str) or interpolation not in PIL_FILTERS:
        raise InterpolationError(interpolation_message(interpolation))
    box = crop_box(*img.size, *size) if keep_aspect_ratio else None
    return img.resize(size, PIL_FILTERS[interpolation], box=box)


def draft_box(img: Image.Image, target_size: tuple[int, int],
              keep_aspect_ratio: bool) -> tuple[float, float, float, float] | None:
    """Request a reduced-DCT decode of a JPEG ``img`` for a resize to ``target_size``.

    The region resized (the whole image, or Keras's ``keep_aspect_ratio`` crop box) must stay
    at >= ``target_size`` after reduction; the decoder's mode is kept, so ``convert_mode``
    sees what the full decode gives (``jpeg_draft``, see ``jpeg_draft.py``).

    Returns:
        The same region in reduced pixel coordinates (floats, for ``Image.resize(box=)``), or
        None when no reduction applies (not a JPEG, or too small).
    """
    box = resize_region(*img.size, target_size, keep_aspect_ratio)
    scale = request_draft(img, draft_scale(box[2] - box[0], box[3] - box[1], target_size[1],
                                           target_size[0]))
    return None if scale == 1 else (box[0] / scale, box[1] / scale, box[2] / scale,
                                    box[3] / scale)


def resize_box(img: Image.Image, target_size: tuple[int, int], interpolation: str,
               box: tuple[float, float, float, float]) -> Image.Image:
    """Resize the ``box`` region of ``img`` to ``target_size`` (``(height, width)``).

    Raises:
        InterpolationError: ``interpolation`` is not a PIL filter name.
    """
    if not isinstance(interpolation, str) or interpolation not in PIL_FILTERS:
        raise InterpolationError(interpolation_message(interpolation))
    return img.resize((target_size[1], target_size[0]), PIL_FILTERS[interpolation], box=box)


def planes(img: Image.Image) -> np.ndarray:
    """``(C, H, W)`` uint8 planes of an 8-bit image, each band unpacked by PIL itself.

    One ``tobytes("raw", band)`` per band is about 30% cheaper than ``np.asarray`` followed by a
    strided HWC -> CHW copy (PIL stores RGB as 4 bytes per pixel, so ``asarray`` repacks too).
    """
    bands = img.getbands()
    out = np.empty((len(bands), img.height, img.width), np.uint8)
    for plane, band in zip(out, bands):
        plane[:] = np.frombuffer(img.tobytes("raw", band), np.uint8).reshape(plane.shape)
    return out


def load_array(path: str | BinaryIO, color_mode: str = "rgb",
               target_size: tuple[int, int] | None = None, interpolation: str = "nearest",
               keep_aspect_ratio: bool = False, channels_first: bool = False,
               formats: tuple[str, ...] | None = LEGACY_FORMATS,
               jpeg_draft: bool = False) -> np.ndarray:
    """Decode, convert and resize one image file.

    Args:
        path: a regular image file or a binary file object (format sniffed from content by
            PIL, among ``formats`` only; first frame of multi-frame files).
        color_mode: "rgb", "rgba" or "grayscale".
        target_size: ``(height, width)`` or None to keep the file's size.
        interpolation: one of nearest, bilinear, bicubic, hamming, box, lanczos.
        keep_aspect_ratio: centre-crop to the target aspect ratio before resizing.
        channels_first: return ``(C, H, W)`` instead of ``(H, W, C)``.
        formats: PIL formats allowed to decode the file (None: any, as Keras's ``load_img``).
        jpeg_draft: decode a JPEG at the smallest DCT scale (1/2, 1/4, 1/8) that keeps the
            resized region at >= ``target_size``, then resize (``draft_box``); not Keras's
            pixels (close: see README). Other files, and JPEGs too small to reduce, decode
            exactly as without it.

    Returns:
        ``(H, W, C)`` (or ``(C, H, W)``) array: uint8, or int32 for 16/32-bit grayscale
        ("I;16"/"I" kept, §A8.2). Read-only when it shares PIL's exported bytes.

    Raises:
        OSError / PIL.UnidentifiedImageError: unreadable, undecodable or not a regular file,
            or content of another format (see ``files.py``).
        InterpolationError: a ``ValueError``: bad ``interpolation``, only when a resize is
            needed, as Keras.
    """
    if not hasattr(path, "read") and (formats is None or "JPEG" in formats) \
            and turbo_jpeg.takes(color_mode, target_size, interpolation):
        with open_regular(os.fspath(path)) as fp:
            arr = turbo_jpeg.decode_file(fp, target_size, keep_aspect_ratio, channels_first,
                                         jpeg_draft)
            if arr is not None:
                return arr
            fp.seek(0)
            return _load_pil(fp, color_mode, target_size, interpolation, keep_aspect_ratio,
                             channels_first, formats, jpeg_draft)
    return _load_pil(path, color_mode, target_size, interpolation, keep_aspect_ratio,
                     channels_first, formats, jpeg_draft)


def _load_pil(path: str | BinaryIO, color_mode: str, target_size: tuple[int, int] | None,
              interpolation: str, keep_aspect_ratio: bool, channels_first: bool,
              formats: tuple[str, ...] | None, jpeg_draft: bool) -> np.ndarray:
    """``load_array`` with PIL (every format, every option)."""
    with open_image(path, formats) as img:
        box = draft_box(img, target_size, keep_aspect_ratio) \
            if jpeg_draft and target_size is not None else None
        img = convert_mode(img, color_mode)
        img = resize(img, target_size, interpolation, keep_aspect_ratio) if box is None \
            else resize_box(img, target_size, interpolation, box)
        if channels_first and img.mode in ("RGB", "RGBA"):
            return planes(img)
        arr = np.asarray(img)
    if arr.dtype != np.uint8:
        arr = arr.astype(np.int32)
    if arr.ndim == 2:
        return arr[None] if channels_first else arr[:, :, None]
    return arr.transpose(2, 0, 1) if channels_first else arr

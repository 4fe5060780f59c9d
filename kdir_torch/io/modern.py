"""Modern image loading: ``tf.io.decode_image`` + ``tf.image.resize`` with PIL and torch
(keras-semantics §B7).

Decoding follows ``tf.image.decode_image(bytes, channels=C, expand_animations=False)``:

* The format is sniffed from the content (PNG, JPEG, GIF, BMP); anything else fails as in TF.
* rgb drops alpha, rgba adds alpha 255, first frame only, EXIF orientation ignored.
* 16-bit PNGs keep the **high byte** (``v >> 8``) in every colour mode, as TF.
* grayscale from colour PNGs uses libpng's truncating fixed-point luma
  ``(9797 r + 19234 g + 3737 b) >> 15`` (TF calls ``png_set_rgb_to_gray(0.299, 0.587)``), not
  PIL's rounded ``convert("L")`` (1 level higher for e.g. (37, 235, 140): TF 164, PIL 165);
  colour JPEGs are decoded straight to the Y plane by libjpeg, as TF's ``JCS_GRAYSCALE``.
* Combinations TF rejects (GIF with grayscale/rgba, BMP with grayscale, JPEG with rgba, CMYK
  JPEG with grayscale) raise ``ValueError`` with TF's reason (lazily, when the file is read,
  as in TF; the dataset wraps it into ``ImageDecodeError``).

Known pixel differences from TF (documented, not reproducible with PIL): JPEG pixels differ by
a few levels (TF uses libjpeg's fast integer IDCT, PIL the accurate one; observed max 4-5);
colour 16-bit PNGs and PNGs with a ``gAMA`` chunk may differ slightly in grayscale; GIF
transparency/disposal, CMYK JPEG colour conversion and a 1-bit PNG's alpha in rgba (TF gives 1)
follow PIL.

Resizing (``resize_image``) applies ``crop_to_aspect_ratio`` / ``pad_to_aspect_ratio`` with the
float32 box maths of ``smart_resize`` / ``tf.image.resize_with_pad`` and then
``modern_resize.resize``. ``load_image(..., jpeg_draft=True)`` (not Keras) first decodes a large
JPEG at a reduced DCT scale (``draft_scale_for``), then applies the same rules to it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image

from . import turbo_jpeg
from .files import MODERN_FORMATS, ForeignFormatError, open_image, open_regular
from .jpeg_draft import draft_scale, request_draft
from .modern_resize import METHODS, resize

_FORMATS = {"PNG": "PNG", "JPEG": "JPEG", "MPO": "JPEG", "GIF": "GIF", "BMP": "BMP"}
_COLOR_MODES = {1: "grayscale", 3: "rgb", 4: "rgba"}
_HIGH_BYTE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_PNG_LUMA = (9797, 19234, 3737)  # libpng: int(0.299 * 32768), int(0.587 * 32768), rest
CROP_METHODS = ("bilinear", "nearest", "lanczos3", "lanczos5", "bicubic", "area")
CROP_PAD_MESSAGE = (
    "Only one of `pad_to_aspect_ratio`, `crop_to_aspect_ratio` can be set to `True`."
)


def _check_channels(kind: str, channels: int, mode: str) -> None:
    """Reject the channel counts TF's decoder rejects for this format (§B7, Part E 19)."""
    name = _COLOR_MODES.get(channels, channels)
    if kind == "GIF" and channels != 3:
        reason = f"`channels` must be 0 or 3 for GIF, but got {channels}"
    elif kind == "BMP" and channels == 1:
        reason = f"`channels` must be 0, 3 or 4 for BMP, but got {channels}"
    elif kind == "JPEG" and channels == 4:
        reason = "JPEG does not support 4 channels"
    elif kind == "JPEG" and channels == 1 and mode == "CMYK":
        reason = "a CMYK JPEG cannot be decoded with 1 channel"
    else:
        return
    raise ValueError(f"{reason} (color_mode={name!r}); TensorFlow's decode_image fails the "
                     "same way on this file.")


def _high_byte(img: Image.Image) -> Image.Image:
    """16-bit grayscale -> 8-bit by taking the high byte, as TF (§B7)."""
    arr = np.asarray(img).astype(np.int64) >> 8
    return Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "L")


def _png_gray(img: Image.Image) -> np.ndarray:
    """libpng's truncating fixed-point RGB -> gray (alpha ignored): ``(H, W)`` uint8."""
    rgb = np.asarray(img.convert("RGB")).astype(np.int32)
    gray = (rgb[..., 0] * _PNG_LUMA[0] + rgb[..., 1] * _PNG_LUMA[1]
            + rgb[..., 2] * _PNG_LUMA[2]) >> 15
    return gray.astype(np.uint8)


def _to_array(img: Image.Image, channels: int) -> np.ndarray:
    """Convert a decoded PIL image to ``(H, W, channels)`` uint8 like ``decode_image``."""
    if img.mode in _HIGH_BYTE_MODES:
        img = _high_byte(img)
    if channels == 3:
        return np.asarray(img if img.mode == "RGB" else img.convert("RGB"))
    if channels == 4:
        return np.asarray(img if img.mode == "RGBA" else img.convert("RGBA"))
    if img.mode in ("L", "1", "LA"):
        return np.asarray(img if img.mode == "L" else img.convert("L"))[:, :, None]
    return _png_gray(img)[:, :, None]


def decode_image(path: str, channels: int,
                 scale_for: Callable[[int, int], int] | None = None) -> torch.Tensor:
    """Decode an image file like ``tf.io.decode_image(..., channels, expand_animations=False)``.

    Args:
        path: image file; the format is sniffed from its content.
        channels: 1 (grayscale), 3 (rgb) or 4 (rgba).
        scale_for: ``(H, W) -> s``: decode a JPEG at ``1 / s`` (1, 2, 4 or 8, reduced-DCT,
            ``jpeg_draft.py``); None decodes at full size.

    Returns:
        ``(channels, H, W)`` uint8 tensor (``(ceil(H / s), ceil(W / s))`` when reduced).

    Raises:
        ValueError: an unsupported format, or a channel count TF rejects for this format.
        OSError / PIL.UnidentifiedImageError: the file is missing, not a regular file, cannot
            be decoded or holds another format than ``MODERN_FORMATS`` (see ``files.py``).
    """
    if channels not in _COLOR_MODES:
        raise ValueError(f"`channels` must be 1, 3 or 4. Received: channels={channels!r}")
    if channels == 3 and turbo_jpeg.available():
        with open_regular(os.fspath(path)) as fp:
            image = turbo_jpeg.decode_modern(fp, scale_for)
            if image is not None:
                return image
            fp.seek(0)
            return _decode_pil(fp, channels, scale_for)
    return _decode_pil(path, channels, scale_for)


def _decode_pil(path: str | BinaryIO, channels: int,
                scale_for: Callable[[int, int], int] | None) -> torch.Tensor:
    """``decode_image`` with PIL (every format and channel count)."""
    try:
        with open_image(path, MODERN_FORMATS) as img:
            kind = _FORMATS[img.format]
            _check_channels(kind, channels, img.mode)
            if kind == "JPEG":  # one draft call: Pillow ignores a second one
                # grayscale: libjpeg outputs the Y plane, as TF's JCS_GRAYSCALE
                mode = "L" if channels == 1 and img.mode != "L" else None
                request_draft(img, 1 if scale_for is None else scale_for(img.height, img.width),
                              mode)
            img.load()
            arr = _to_array(img, channels)
    except ForeignFormatError as exc:
        raise ValueError("Unknown image file format. One of JPEG, PNG, GIF, BMP required. "
                         f"(PIL identified {exc.format!r})") from None
    chw = arr.transpose(2, 0, 1)
    if not (chw.flags.c_contiguous and chw.flags.writeable):
        chw = chw.copy()  # one C-ordered, writable copy
    return torch.from_numpy(chw)


def crop_box(height: int, width: int, target_h: int, target_w: int) -> tuple[int, int, int, int]:
    """``crop_to_aspect_ratio`` window of ``smart_resize`` (TF backend, float32 maths, §B7).

    Returns:
        ``(top, left, crop_h, crop_w)``.
    """
    f32 = np.float32
    crop_h = int(np.trunc(f32(f32(width * target_h) / f32(target_w))))
    crop_h = max(min(height, crop_h), 1)
    crop_w = int(np.trunc(f32(f32(height * target_w) / f32(target_h))))
    crop_w = max(min(width, crop_w), 1)
    top = int(np.trunc(f32(height - crop_h) / f32(2)))
    left = int(np.trunc(f32(width - crop_w) / f32(2)))
    return top, left, crop_h, crop_w


def pad_box(height: int, width: int, target_h: int, target_w: int) -> tuple[int, int, int, int]:
    """``tf.image.resize_with_pad`` placement (float32 maths, §B7).

    The padding is computed from the **unfloored** resized size, so the content is not always
    centred (5x7 -> (4, 4) puts a 2x4 image in rows 0-1).

    Returns:
        ``(pad_top, pad_left, resized_h, resized_w)``.
    """
    f32 = np.float32
    fh, fw, fth, ftw = f32(height), f32(width), f32(target_h), f32(target_w)
    ratio = max(fw / ftw, fh / fth)
    rh_f, rw_f = fh / ratio, fw / ratio
    top = max(0, int(np.floor((fth - rh_f) / f32(2))))
    left = max(0, int(np.floor((ftw - rw_f) / f32(2))))
    return top, left, int(np.floor(rh_f)), int(np.floor(rw_f))


def resize_image(image: torch.Tensor, size: tuple[int, int], interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False,
                 pad_to_aspect_ratio: bool = False) -> torch.Tensor:
    """Resize like Keras's ``_load_image_tf`` (always resizes; bilinear at scale 1 is a copy).

    Args:
        image: ``(..., H, W)`` tensor (uint8 when decoded).
        size: ``(height, width)``.
        interpolation: one of ``modern_resize.METHODS``.
        crop_to_aspect_ratio: centre-crop to the target aspect ratio first (§B7).
        pad_to_aspect_ratio: resize to fit, then zero-pad (``resize_with_pad``, §B7).

    Returns:
        ``(..., height, width)``: float32, or the input dtype for ``nearest`` (as TF).

    Raises:
        ValueError: both aspect options, an unknown method, or gaussian/mitchellcubic with
            ``crop_to_aspect_ratio`` (Keras's TF backend ``resize`` rejects them).
    """
    if interpolation not in METHODS:
        raise ValueError(f"Argument `interpolation` should be one of {METHODS}. "
                         f"Received: interpolation={interpolation}")
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(CROP_PAD_MESSAGE)
    height, width = int(image.shape[-2]), int(image.shape[-1])
    if crop_to_aspect_ratio:
        check_crop_interpolation(interpolation)
        top, left, crop_h, crop_w = crop_box(height, width, *size)
        return resize(image[..., top:top + crop_h, left:left + crop_w], size, interpolation)
    if pad_to_aspect_ratio:
        top, left, res_h, res_w = pad_box(height, width, *size)
        resized = resize(image, (res_h, res_w), interpolation)
        out = resized.new_zeros(*resized.shape[:-2], *size)
        out[..., top:top + res_h, left:left + res_w] = resized
        return out
    return resize(image, size, interpolation)


def check_crop_interpolation(interpolation: str) -> None:
    """Keras's TF-backend ``resize`` message for methods it lacks (used with crop, §B7)."""
    if interpolation not in CROP_METHODS:
        raise ValueError(
            "Invalid value for argument `interpolation`. Expected of one "
            f"{CROP_METHODS}. Received: interpolation={interpolation}"
        )


def draft_scale_for(height: int, width: int, size: tuple[int, int], crop_to_aspect_ratio: bool,
                    pad_to_aspect_ratio: bool) -> int:
    """The reduced-DCT scale that keeps the region ``resize_image`` resizes at >= its target.

    The region is the crop window (crop), the whole image resized to the fitted size (pad),
    or the whole image resized to ``size``.
    """
    if crop_to_aspect_ratio:
        _, _, crop_h, crop_w = crop_box(height, width, *size)
        return draft_scale(crop_w, crop_h, size[1], size[0])
    if pad_to_aspect_ratio:
        _, _, res_h, res_w = pad_box(height, width, *size)
        return draft_scale(width, height, res_w, res_h)
    return draft_scale(width, height, size[1], size[0])


def load_image(path: str, channels: int, image_size: tuple[int, int],
               interpolation: str = "bilinear", crop_to_aspect_ratio: bool = False,
               pad_to_aspect_ratio: bool = False, jpeg_draft: bool = False) -> torch.Tensor:
    """Decode and resize one file like Keras's ``_load_image_tf`` (channels-first result).

    With ``jpeg_draft`` a JPEG is decoded at the smallest DCT scale (1/2, 1/4, 1/8) that keeps
    the resized region at >= ``image_size`` (``draft_scale_for``), and the reduced image goes
    through ``resize_image`` (crop / pad boxes computed on it); not Keras's pixels (close: see
    README). Other files, and JPEGs too small to reduce, decode exactly as without it.

    Returns:
        ``(channels, height, width)``: float32 in 0..255, uint8 for ``nearest``.

    Raises:
        ValueError / OSError: see ``decode_image`` and ``resize_image``.
    """
    scale_for = functools.partial(
        draft_scale_for, size=image_size, crop_to_aspect_ratio=crop_to_aspect_ratio,
        pad_to_aspect_ratio=pad_to_aspect_ratio) if jpeg_draft else None
    image = decode_image(path, channels, scale_for)
    return resize_image(image, image_size, interpolation, crop_to_aspect_ratio,
                        pad_to_aspect_ratio)

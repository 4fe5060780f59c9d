"""JPEG decoding through torchvision's libjpeg-turbo with PIL's pixels exactly (keras-semantics §A8).

PIL and ``torchvision.io.decode_jpeg`` both decode with libjpeg-turbo, its accurate integer
IDCT and fancy upsampling, so the RGB pixels of a YCbCr JPEG agree bit for bit; torchvision's
call costs about 20 % less (no RGBX store, no band unpacking; 640 against 820 µs for a
~500x375 photo here). ``legacy.load_array`` and ``modern.decode_image`` take this path for a
file only when

* the extension ``kdir_torch.io._pick`` is built and torchvision's decoder was imported by
  :func:`prepare` (``ENABLED`` is the test seam). The datasets call it when they are built
  with options that can use the path, in the main process: importing torchvision takes ~2 s,
  paid once there and inherited by forked ``DataLoader`` workers, never per worker. Workers
  started with spawn or forkserver keep PIL (no import, the same pixels);
* the colour mode is "rgb" and a resize, if one is needed, uses PIL's nearest filter (with
  or without Keras's ``keep_aspect_ratio`` box); for the modern API (``modern.decode_image``)
  three channels, whatever resize follows,
* the byte scan of ``jpeg_header.frame`` finds 3 components: 8-bit YCbCr,
  baseline/extended/progressive Huffman, ending in an end-of-image marker,
* the frame has at most ``PIL.Image.MAX_IMAGE_PIXELS`` pixels (above it PIL warns, above twice
  it PIL refuses the file as a decompression bomb: both stay PIL's),
* with ``jpeg_draft``, the file is too small for any DCT reduction (``draft_scale`` is 1), so
  the draft decode would be the full one;

then the legacy resize picks PIL's nearest-filter source pixels (``pil_resize._nearest_index``)
straight into the layout asked for, and the modern API resizes the decoded image as ever.
Every other file, and any file torchvision fails on, is decoded by PIL from the same open file,
so errors, warnings and other conversions stay PIL's.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
import torch
from PIL import Image

from .jpeg_draft import draft_scale
from .jpeg_header import frame
from .pil_resize import nearest_indices

try:
    from . import _pick
except ImportError:  # not compiled: PIL decodes every file
    _pick = None

#: Whether the path is used when it can be (tests switch it off to compare with PIL).
ENABLED = True
_decode_jpeg = None  # torchvision.io.decode_jpeg once imported; False when it cannot be


def prepare() -> bool:
    """Import torchvision's decoder for this path (once per process; ~2 s when torchvision is
    not imported yet) and tell whether the path is available."""
    global _decode_jpeg
    if ENABLED and _pick is not None and _decode_jpeg is None:
        try:
            from torchvision.io import decode_jpeg
        except (ImportError, RuntimeError, OSError):  # absent, or built against another torch
            decode_jpeg = False
        _decode_jpeg = decode_jpeg
    return available()


def available() -> bool:
    """The path is enabled, ``_pick`` is built and :func:`prepare` imported the decoder here
    (or in the parent of this forked process). Never imports anything."""
    return ENABLED and _pick is not None and _decode_jpeg not in (None, False)


def eligible(color_mode: str, target_size: tuple[int, int] | None, interpolation: object) -> bool:
    """Whether legacy loading with these options can use this path at all (the datasets then
    :func:`prepare` it)."""
    return color_mode == "rgb" and (target_size is None or interpolation == "nearest")


def takes(color_mode: str, target_size: tuple[int, int] | None, interpolation: object) -> bool:
    """Whether files loaded with these options may take this path (before any byte is read)."""
    return eligible(color_mode, target_size, interpolation) and available()


def decode_file(fp: BinaryIO, target_size: tuple[int, int] | None, keep_aspect_ratio: bool,
                channels_first: bool, jpeg_draft: bool = False) -> np.ndarray | None:
    """``legacy.load_array`` of an open file if it is a JPEG this path takes (module docstring).

    Args:
        fp: binary file at offset 0 (left anywhere when None is returned: seek back).
        target_size: ``(height, width)``, or None to keep the file's size.
        keep_aspect_ratio: Keras's centre crop before the resize (``legacy.crop_box``).
        channels_first: ``(3, H, W)`` planes instead of ``(H, W, 3)``.
        jpeg_draft: the caller's ``jpeg_draft``: a file a DCT reduction applies to is left to
            PIL's draft decode.

    Returns:
        uint8 array equal to the PIL path's, or None: the path is unavailable, the file is not
        such a JPEG, or torchvision failed on it.
    """
    reduces = None
    if jpeg_draft and target_size is not None:
        reduces = functools.partial(_reduces, target_size=target_size,
                                    keep_aspect_ratio=keep_aspect_ratio)
    image = _decode(fp, reduces)
    return None if image is None else _resize(image, target_size, keep_aspect_ratio,
                                              channels_first)


def decode_modern(fp: BinaryIO, scale_for: Callable[[int, int], int] | None) -> torch.Tensor | None:
    """``modern.decode_image(..., channels=3)`` of an open file if it is such a JPEG.

    Args:
        fp: binary file at offset 0 (left anywhere when None is returned: seek back).
        scale_for: the caller's ``(H, W) -> s`` draft rule; a file it would reduce (s > 1) is
            left to PIL's draft decode.

    Returns:
        ``(3, H, W)`` contiguous uint8 tensor equal to PIL's decode, or None (as ``decode_file``).
    """
    image = _decode(fp, None if scale_for is None else lambda h, w: scale_for(h, w) > 1)
    return None if image is None else image.contiguous()


def _decode(fp: BinaryIO, reduces: Callable[[int, int], bool] | None) -> torch.Tensor | None:
    """torchvision's decode of an open file that passes every check of the module docstring:
    ``(3, H, W)``, a view of ``(H, W, 3)`` memory; None for any other file."""
    if not available():
        return None
    head = fp.read(3)
    if head != b"\xff\xd8\xff":
        return None
    data = head + fp.read()
    found = frame(data)
    if found is None or found[0] != 3:
        return None
    limit = Image.MAX_IMAGE_PIXELS  # read per file, as PIL does
    if (limit is not None and found[1] * found[2] > limit) or \
            (reduces is not None and reduces(found[1], found[2])):
        return None
    try:
        with warnings.catch_warnings():  # torchvision 0.29 deprecates its image decoders
            warnings.simplefilter("ignore")
            image = _decode_jpeg(torch.frombuffer(data, dtype=torch.uint8))
    except RuntimeError:  # corrupt data: PIL decides (and words the error)
        return None
    return image if image.dim() == 3 and image.shape[0] == 3 else None


def _resize(image: torch.Tensor, target_size: tuple[int, int] | None, keep_aspect_ratio: bool,
            channels_first: bool) -> np.ndarray:
    """``load_img``'s resize (§A8.3) of a decoded ``(3, H, W)`` image, NEAREST, as PIL picks."""
    from .legacy import resize_region

    _, h, w = image.shape
    if target_size is None or tuple(target_size) == (h, w):  # PIL: no resize at all
        return (image if channels_first else image.permute(1, 2, 0)).contiguous().numpy()
    hwc = image.permute(1, 2, 0).contiguous()  # a view of the decoder's (H, W, 3) memory
    out_h, out_w = int(target_size[0]), int(target_size[1])
    rows, cols = nearest_indices(h, w, target_size,
                                 resize_region(w, h, target_size, keep_aspect_ratio))
    if channels_first:
        out = np.empty((3, out_h, out_w), np.uint8)
        strides = (out_h * out_w, out_w, 1)
    else:
        out = np.empty((out_h, out_w, 3), np.uint8)
        strides = (1, out_w * 3, 3)
    _pick.pick(hwc.numpy(), (h, w, 3), (w * 3, 3, 1), rows, cols, out, strides)
    return out


def _reduces(h: int, w: int, *, target_size: tuple[int, int], keep_aspect_ratio: bool) -> bool:
    """``legacy.draft_box`` would ask for a reduced-DCT decode of an ``h`` x ``w`` JPEG."""
    from .legacy import resize_region

    left, top, right, bottom = resize_region(w, h, target_size, keep_aspect_ratio)
    return draft_scale(right - left, bottom - top, target_size[1], target_size[0]) > 1

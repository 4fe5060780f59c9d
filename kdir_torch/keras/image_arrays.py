"""Keras's array <-> image utilities: ``img_to_array``, ``array_to_img``, ``smart_resize``.

Keras 3's ``keras.utils`` functions (keras-semantics §A8.4, Part C) with Keras's defaults
(channels_last, float32), values and error texts, plus:

* numpy arrays and torch tensors are accepted wherever Keras takes an array; ``smart_resize``
  returns numpy for numpy input and a tensor (same device) for tensor input, as Keras does on
  its torch backend;
* ``as_tensor=True`` (keyword-only) on ``img_to_array`` and ``smart_resize`` returns a torch
  tensor in the requested ``data_format`` instead of a numpy array;
* ``img_to_array`` always returns a new, writable array (Keras may return a read-only view of
  PIL's buffer when no dtype conversion is needed).

``data_format=None`` means "channels_last", Keras's default global config; Keras's own global
config is never read.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import Tensor

from kdir_torch._validation import check_bool
from kdir_torch.keras._array_helpers import (
    as_tensor_view,
    back_to_kind,
    split_dtype,
    standardize_data_format,
    to_numpy,
)

__all__ = ["array_to_img", "img_to_array", "smart_resize"]

# Keras's torch-backend resize methods (keras/src/backend/torch/image.py).
_RESIZE_MODES = {"bilinear": "bilinear", "nearest": "nearest-exact", "bicubic": "bicubic"}
_LANCZOS = ("lanczos3", "lanczos5")
_ROUNDED = (torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64)


def img_to_array(
    img: Any, data_format: str | None = None, dtype: Any = None, *, as_tensor: bool = False
) -> np.ndarray | Tensor:
    """Convert a PIL image (or any array-like) to an array, as ``keras.utils.img_to_array``.

    Values are not scaled (0..255 for 8-bit images, 0..65535 for 16-bit grayscale).

    Args:
        img: PIL image, numpy array or tensor.
        data_format: "channels_last" (None, the default) or "channels_first"; case-insensitive.
        dtype: numpy dtype or name (None: float32, Keras's ``floatx()``); with ``as_tensor``
            also a ``torch.dtype``.
        as_tensor: return a torch tensor (CPU) instead of a numpy array.

    Returns:
        ``(H, W, C)`` (channels_last) or ``(C, H, W)`` array of ``dtype``: a new writable numpy
        array, or a tensor with ``as_tensor``. A 2-D image gets a channel axis of size 1.

    Raises:
        ValueError: bad ``data_format``, or an image that is not 2-D or 3-D
            (Keras's ``Unsupported image shape: ...``).
        TypeError: a ``torch.dtype`` without a numpy twin when ``as_tensor`` is False.
    """
    fmt = standardize_data_format(data_format)
    as_tensor = check_bool("as_tensor", as_tensor)
    np_dtype, torch_dtype = split_dtype(dtype)
    if torch_dtype is not None and not as_tensor:
        raise TypeError(f"`dtype={dtype}` has no numpy equivalent: use it with `as_tensor=True`.")
    x = np.array(to_numpy(img) if isinstance(img, Tensor) else img, dtype=np_dtype)
    if x.ndim == 2:
        x = x[None] if fmt == "channels_first" else x[:, :, None]
    elif x.ndim == 3:
        x = x.transpose(2, 0, 1) if fmt == "channels_first" else x
    else:
        raise ValueError(f"Unsupported image shape: {x.shape}")
    if not as_tensor:
        return x
    t = torch.from_numpy(np.ascontiguousarray(x))
    return t if torch_dtype is None else t.to(torch_dtype)


def array_to_img(
    x: Any, data_format: str | None = None, scale: bool = True, dtype: Any = None
) -> Image.Image:
    """Convert a single image array to a PIL image, as ``keras.utils.array_to_img``.

    In ``dtype`` (float32 by default): with ``scale``, ``x - min`` is divided by its maximum
    (when not 0) and multiplied by 255. Then 4 channels give "RGBA", 3 "RGB" and 1 "L", all
    cast to uint8 by numpy (truncation), except 1 channel with a maximum above 255, which
    gives a 32-bit "I" image.

    Args:
        x: rank-3 array-like or tensor (any device) in ``data_format``.
        data_format: "channels_last" (None, the default) or "channels_first".
        scale: min-max scale the values to 0..255 first.
        dtype: numpy dtype of the arithmetic (None: float32).

    Returns:
        A PIL image of the image's width and height.

    Raises:
        ValueError: bad ``data_format``; ``x`` not rank 3 or with a channel count other than
            1, 3 or 4 (Keras's texts).
    """
    fmt = standardize_data_format(data_format)
    np_dtype, torch_dtype = split_dtype(dtype)
    if torch_dtype is not None:
        raise TypeError(f"`dtype={dtype}` has no numpy equivalent.")
    x = np.asarray(to_numpy(x), dtype=np_dtype)
    if x.ndim != 3:
        raise ValueError(
            f"Expected image array to have rank 3 (single image). Got array with shape: {x.shape}"
        )
    if fmt == "channels_first":
        x = x.transpose(1, 2, 0)
    if scale:
        x = x - np.min(x)
        peak = np.max(x)
        if peak != 0:
            x /= peak
        x *= 255
    channels = x.shape[2]
    if channels in (3, 4):
        return Image.fromarray(x.astype(np.uint8))  # (H, W, 3|4) uint8: "RGB" / "RGBA"
    if channels == 1:
        plane = x[:, :, 0]
        return Image.fromarray(plane.astype(np.int32) if np.max(x) > 255 else plane.astype(np.uint8))
    raise ValueError(f"Unsupported channel number: {channels}")


def _crop_box(h: int, w: int, size: Sequence[int]) -> tuple[int, int, int, int]:
    """Keras's largest centred crop with the target aspect ratio, in Python float64 maths."""
    th, tw = size
    crop_h = max(min(h, int(float(w * th) / tw)), 1)
    crop_w = max(min(w, int(float(h * tw) / th)), 1)
    return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2), crop_h, crop_w


def _resize_nchw(x: Tensor, size: tuple[int, int], interpolation: str) -> Tensor:
    """Keras's torch-backend ``resize`` (no antialias) of a (B, C, H, W) tensor, dtype kept."""
    out_dtype = x.dtype
    work = x if out_dtype in (torch.float32, torch.float64) else x.to(torch.float32)
    align = False if interpolation in ("bilinear", "bicubic") else None
    out = F.interpolate(work, size=size, mode=_RESIZE_MODES[interpolation], align_corners=align,
                        antialias=False)
    if interpolation == "bicubic" and out_dtype == torch.uint8:
        out = out.clamp(0, 255)
    if out_dtype == work.dtype:
        return out
    return (out.round() if out_dtype in _ROUNDED else out).to(out_dtype)


def smart_resize(
    x: Any,
    size: Sequence[int],
    interpolation: str = "bilinear",
    data_format: str = "channels_last",
    *,
    as_tensor: bool = False,
) -> np.ndarray | Tensor:
    """Centre-crop to the target aspect ratio, then resize, as ``keras.preprocessing.image.smart_resize``.

    The crop is Keras's (``crop_h = max(min(H, int(W * th / tw)), 1)``, ``top = int((H -
    crop_h) / 2)``, likewise for the width, in Python floats) and the resize is Keras's
    torch backend: ``torch.nn.functional.interpolate`` without antialiasing ("nearest" is
    "nearest-exact"; bilinear/bicubic with ``align_corners=False``), computed in float32 for
    non-float32/64 input, rounded back for integer dtypes (bicubic uint8 clamped to 0..255).

    Args:
        x: ``(H, W, C)`` / ``(B, H, W, C)`` (or channels_first) numpy array, array-like or
            tensor (any device).
        size: ``(height, width)`` target.
        interpolation: "bilinear", "nearest" or "bicubic".
        data_format: "channels_last" (default; None means the same) or "channels_first".
        as_tensor: return a tensor even for numpy input.

    Returns:
        Same rank, layout and dtype as ``x`` with the target height and width: a numpy array
        for non-tensor input (unless ``as_tensor``), else a tensor on ``x``'s device.

    Raises:
        ValueError: ``size`` not of length 2, rank not 3 or 4, bad ``data_format`` or
            ``interpolation`` (Keras's texts; "lanczos3"/"lanczos5" are refused as on Keras's
            torch backend).
    """
    as_tensor = check_bool("as_tensor", as_tensor)
    if len(size) != 2:
        raise ValueError(f"Expected `size` to be a tuple of 2 integers, but got: {size}.")
    arr = to_numpy(x) if not isinstance(x, Tensor) else x
    if isinstance(arr, np.ndarray) and arr.dtype == np.uint32:
        arr = arr.astype(np.int64)  # as Keras's torch backend
    t, numpy_in = as_tensor_view(arr)
    if t.dim() not in (3, 4):
        raise ValueError(
            "Expected an image array with shape `(height, width, channels)`, or `(batch_size, "
            "height, width, channels)`, but got input with incorrect rank, of shape "
            f"{t.shape}."
        )
    fmt = standardize_data_format(data_format)
    if interpolation in _LANCZOS:
        raise ValueError(
            "Resizing with Lanczos interpolation is not supported by the PyTorch backend. "
            f"Received: interpolation={interpolation}."
        )
    if interpolation not in _RESIZE_MODES:
        raise ValueError(
            f"Invalid value for argument `interpolation`. Expected of one {_RESIZE_MODES}. "
            f"Received: interpolation={interpolation}"
        )
    batch = t if t.dim() == 4 else t[None]
    nchw = batch.permute(0, 3, 1, 2) if fmt == "channels_last" else batch
    top, left, crop_h, crop_w = _crop_box(nchw.shape[2], nchw.shape[3], size)
    out = _resize_nchw(nchw[:, :, top:top + crop_h, left:left + crop_w],
                       (int(size[0]), int(size[1])), interpolation)
    out = out.permute(0, 2, 3, 1) if fmt == "channels_last" else out
    out = (out if t.dim() == 4 else out[0]).contiguous()
    return back_to_kind(out, numpy_in and not as_tensor)

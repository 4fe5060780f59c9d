"""TensorFlow's ``tf.image.resize(..., antialias=False)`` as torch ops (keras-semantics §B7).

Every method of ``image_dataset_from_directory`` is reproduced on ``(..., H, W)`` tensors:

* ``bilinear``: ``F.interpolate(mode="bilinear", align_corners=False, antialias=False)`` -- the
  same half-pixel formula as TF's ``resize_bilinear(half_pixel_centers=True)``.
* ``nearest``: ``F.interpolate(mode="nearest-exact")`` -- TF's
  ``min(floor((dst + 0.5) * in / out), in - 1)``; the dtype is kept (uint8 stays uint8).
* ``bicubic``: TF's ``resize_bicubic(half_pixel_centers=True)``: Keys cubic with a = -0.5 from
  TF's 1024-entry coefficient table, out-of-image taps dropped and weights renormalised.
* ``area``: TF's ``resize_area`` (box coverage weights, times ``1 / (scale_y * scale_x)``).
* ``lanczos3``, ``lanczos5``, ``gaussian``, ``mitchellcubic``: TF's ``scale_and_translate``
  kernels without antialiasing (spans clamped to the image, weights renormalised).

The separable methods are computed as a short loop over filter taps (``index_select`` +
multiply-add, never a loop over pixels), in TF's float32 coordinate arithmetic and TF's order
of summation, so results agree with TF to float32 rounding. Tap tables are cached per
``(method, in_size, out_size)``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

METHODS = ("bilinear", "nearest", "bicubic", "area", "lanczos3", "lanczos5", "gaussian",
           "mitchellcubic")
_F32 = np.float32
_TABLE_SIZE = 1024
_FLT_MIN = float(np.finfo(np.float32).tiny)
_MITCHELL = {"a": (-7.0, 18.0), "b": (10.0, 3.0), "c": (16.0, 9.0), "d": (7.0, 6.0),
             "e": (8.0, 9.0)}  # float32 quotients, as the C++ literals
_RADIUS = {"lanczos3": 3.0, "lanczos5": 5.0, "gaussian": 1.5, "mitchellcubic": 2.0}


def resize(images: torch.Tensor, size: tuple[int, int], method: str) -> torch.Tensor:
    """Resize the last two axes like ``tf.image.resize(images, size, method)``.

    Args:
        images: ``(..., H, W)`` tensor of any real dtype (uint8 for decoded images).
        size: ``(height, width)`` of the output, both >= 1.
        method: one of ``METHODS``.

    Returns:
        ``(..., height, width)``: float32, except ``nearest`` which keeps ``images.dtype``.

    Raises:
        ValueError: unknown ``method`` or an empty size.
    """
    if method not in METHODS:
        raise ValueError(f"`method` must be one of {METHODS}. Received: method={method!r}")
    out_h, out_w = int(size[0]), int(size[1])
    if out_h < 1 or out_w < 1 or images.shape[-1] < 1 or images.shape[-2] < 1:
        raise ValueError(f"Cannot resize an image of shape {tuple(images.shape)} to {size}.")
    if method == "nearest":
        return _interpolate(images, (out_h, out_w), "nearest-exact")
    if method == "bilinear":
        return _interpolate(images.to(torch.float32), (out_h, out_w), "bilinear")
    in_h, in_w = images.shape[-2], images.shape[-1]
    rows, cols = _taps(method, in_h, out_h), _taps(method, in_w, out_w)
    if method == "area":  # TF sums along x first, then y, then scales
        cols_first = _apply_taps(images.transpose(-1, -2).contiguous(), cols)
        out = _apply_taps(cols_first.transpose(-1, -2).contiguous(), rows)
        return out * _area_norm(in_h, out_h, in_w, out_w)
    rows_first = _apply_taps(images, rows)
    cols_last = _apply_taps(rows_first.transpose(-1, -2).contiguous(), cols)
    return cols_last.transpose(-1, -2).contiguous()


def _interpolate(x: torch.Tensor, size: tuple[int, int], mode: str) -> torch.Tensor:
    """``F.interpolate`` on the last two axes of a tensor of any rank >= 2."""
    lead, (h, w) = x.shape[:-2], x.shape[-2:]
    flat = x.reshape(1, -1, h, w)
    if mode == "bilinear":
        out = F.interpolate(flat, size=size, mode="bilinear", align_corners=False,
                            antialias=False)
    else:
        out = F.interpolate(flat, size=size, mode=mode)
    return out.reshape(*lead, *size)


def _apply_taps(x: torch.Tensor, taps: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
    """``out[o] = sum_k w[o, k] * x[idx[o, k]]`` along axis -2, k ascending (TF's order).

    Axis -2 of a contiguous tensor: each tap is one cheap row gather (callers transpose to
    resample the width); only the gathered rows are converted to float32.
    """
    idx = torch.from_numpy(taps[0]).to(x.device)
    w = torch.from_numpy(taps[1]).to(x.device)
    out = None
    for k in range(idx.shape[1]):
        term = x.index_select(-2, idx[:, k]).to(torch.float32) * w[:, k, None]
        out = term if out is None else out + term
    return out


@functools.lru_cache(maxsize=512)
def _taps(method: str, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """Source indices ``(n_out, K)`` int64 and weights ``(n_out, K)`` float32 for one axis."""
    if method == "bicubic":
        return _bicubic_taps(n_in, n_out)
    if method == "area":
        return _area_taps(n_in, n_out)
    return _span_taps(method, n_in, n_out)


@functools.lru_cache(maxsize=1)
def _cubic_table() -> np.ndarray:
    """TF's ``InitCoeffsTable(-0.5)``: ``(1025, 2)`` float32 (double maths, float storage)."""
    a = -0.5
    x = (np.arange(_TABLE_SIZE + 1) * 1.0 / _TABLE_SIZE).astype(_F32).astype(np.float64)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    x1 = (x + 1.0).astype(_F32).astype(np.float64)
    far = ((a * x1 - 5 * a) * x1 + 8 * a) * x1 - 4 * a
    return np.stack([near, far], axis=1).astype(_F32)


def _bicubic_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """TF ``GetWeightsAndIndices<HalfPixelScaler, use_keys_cubic=true>`` for every output."""
    scale = _F32(n_in) / _F32(n_out)
    in_f = (np.arange(n_out).astype(_F32) + _F32(0.5)) * scale - _F32(0.5)
    in_loc = np.floor(in_f).astype(np.int64)
    delta = in_f - in_loc.astype(_F32)
    offset = np.rint(delta * _F32(_TABLE_SIZE)).astype(np.int64)  # lrintf: half to even
    table = _cubic_table()
    w = np.stack([table[offset, 1], table[offset, 0], table[_TABLE_SIZE - offset, 0],
                  table[_TABLE_SIZE - offset, 1]], axis=1)
    idx = in_loc[:, None] + np.arange(-1, 3)
    w = np.where((idx >= 0) & (idx < n_in), w, _F32(0))
    total = ((w[:, 0] + w[:, 1]) + w[:, 2]) + w[:, 3]
    ok = np.abs(total) >= _F32(1000.0 * _FLT_MIN)
    inv = np.where(ok, _F32(1) / np.where(ok, total, _F32(1)), _F32(1))
    w = np.where(ok[:, None], w * inv[:, None], w)
    return np.clip(idx, 0, n_in - 1), w.astype(_F32)


def _area_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """TF ``resize_area`` coverage of each source pixel by each output box (unnormalised)."""
    scale = _F32(n_in) / _F32(n_out)
    pos = np.arange(n_out + 1).astype(_F32) * scale
    lo, hi = pos[:-1], pos[1:]
    start = np.floor(lo).astype(np.int64)
    end = np.ceil(hi).astype(np.int64)
    k = int((end - start).max())
    src = start[:, None] + np.arange(k)
    fs = src.astype(_F32)
    lo2, hi2 = lo[:, None], hi[:, None]
    inside = np.where(fs + _F32(1) > hi2, hi2 - fs, _F32(1))
    first = np.where(fs + _F32(1) > hi2, scale, fs + _F32(1) - lo2)
    w = np.where(fs < lo2, first, inside)
    w = np.where(src < end[:, None], w, _F32(0))
    return np.clip(src, 0, n_in - 1), w.astype(_F32)


def _area_norm(in_h: int, out_h: int, in_w: int, out_w: int) -> float:
    """TF's ``1.0 / (height_scale * width_scale)`` stored as float32."""
    hs, ws = _F32(in_h) / _F32(out_h), _F32(in_w) / _F32(out_w)
    return float(_F32(1.0 / np.float64(_F32(hs * ws))))


def _kernel(method: str, x: np.ndarray) -> np.ndarray:
    """TF ``sampling_kernels.h`` functions on float32 ``|x|``."""
    x = np.abs(x).astype(_F32)
    if method in ("lanczos3", "lanczos5"):
        r, pi = _F32(_RADIUS[method]), _F32(3.14159265359)
        with np.errstate(divide="ignore", invalid="ignore"):
            val = r * np.sin(pi * x) * np.sin(pi * x / r) / (pi * pi * x * x)
        return np.where(x > r, _F32(0), np.where(x <= _F32(1e-3), _F32(1), val)).astype(_F32)
    if method == "gaussian":
        r = _F32(1.5)
        sigma = np.float64(r / _F32(3.0))
        val = np.exp(-(x * x).astype(np.float64) / (2.0 * sigma * sigma)).astype(_F32)
        return np.where(x >= r, _F32(0), val)
    c = {k: _F32(n) / _F32(d) for k, (n, d) in _MITCHELL.items()}
    far = ((c['a'] * x + _F32(2.0)) * x - c['b']) * x + c['c']
    near = ((c['d'] * x - _F32(2.0)) * x) * x + c['e']
    return np.where(x >= _F32(2), _F32(0), np.where(x >= _F32(1), far, near)).astype(_F32)


def _span_taps(method: str, n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray]:
    """TF ``ComputeSpansCore`` (scale_and_translate, translate 0, antialias False)."""
    radius = _F32(_RADIUS[method])
    inv_scale = _F32(1.0 / np.float64(_F32(n_out) / _F32(n_in)))
    sample = (np.arange(n_out).astype(_F32) + _F32(0.5)) * inv_scale
    start = np.ceil(sample - radius - _F32(0.5)).astype(np.int64).clip(0, n_in - 1)
    end = np.floor(sample + radius - _F32(0.5)).astype(np.int64).clip(0, n_in - 1) + 1
    k = int(min(2 * int(np.ceil(radius)) + 1, n_in))
    src = start[:, None] + np.arange(k)
    valid = src < end[:, None]
    w = np.where(valid, _kernel(method, src.astype(_F32) + _F32(0.5) - sample[:, None]), _F32(0))
    total = np.zeros(n_out, _F32)
    for j in range(k):  # sequential float32 sum, as TF
        total = total + w[:, j]
    ok = np.abs(total) >= _F32(1000.0 * _FLT_MIN)
    inv = _F32(1) / np.where(ok, total, _F32(1))
    w = np.where(ok[:, None], w * inv[:, None], _F32(0))
    return np.clip(src, 0, n_in - 1), w.astype(_F32)

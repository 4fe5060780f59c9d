"""PIL's ``Image.resize`` as torch ops on uint8 ``(..., H, W)`` tensors (keras-semantics §A8.3).

The legacy API resizes with PIL (``io/legacy.py``); ``make_loader(decode_on="device")`` resizes
images decoded on the GPU with this module instead, and gets PIL's pixels **bit for bit** for
8-bit images (tests compare against PIL for every filter, with and without a crop box):

* ``nearest``: PIL's ``ImagingScaleAffine``: source column ``int(x0 + k * scale)`` where the
  position starts at ``box_left + scale / 2`` and is advanced by ``scale`` one column at a
  time in float64 (a running sum, reproduced with ``np.cumsum``, not a closed formula).
* the other filters (bilinear, bicubic, hamming, box, lanczos): PIL's two-pass
  ``ImagingResample``: per-output-pixel filter weights computed in float64
  (``precompute_coeffs``), rounded to 22-bit fixed point (``normalize_coeffs_8bpc``), the
  horizontal pass first (Pillow 13: the vertical one first when the height shrinks by more
  than twice as many pixels as the width), each pass rounded (``+ 2**21``, ``>> 22``) and
  clipped to 0..255; a crop box of exactly the output size is a plain crop, as in PIL.
  The passes are a short loop over filter taps (``index_select`` + integer multiply-add in
  int64), never a loop over pixels; tap tables are cached per ``(filter, size, box)``.

A pass whose axis keeps its size and has no crop is skipped, as PIL does; a resize to the same
size without a box is a copy (the caller decides whether to resize at all, as ``load_img``).
"""

from __future__ import annotations

import functools
import math

import numpy as np
import PIL
import torch

#: Pillow 13 runs the vertical pass first when the height shrinks by more than twice as many
#: pixels as the width (python-pillow/Pillow#9549); earlier versions always start horizontally.
_VERTICAL_FIRST = int(PIL.__version__.split(".")[0]) >= 13
FILTERS = ("nearest", "bilinear", "bicubic", "hamming", "box", "lanczos")
_PRECISION_BITS = 22  # PIL: 32 - 8 - 2


def _box(x: float) -> float:
    return 1.0 if -0.5 < x <= 0.5 else 0.0


def _bilinear(x: float) -> float:
    x = abs(x)
    return 1.0 - x if x < 1.0 else 0.0


def _hamming(x: float) -> float:
    x = abs(x)
    if x == 0.0:
        return 1.0
    if x >= 1.0:
        return 0.0
    x *= math.pi
    # PIL's literals 0.54f / 0.46f are floats, promoted to double
    return math.sin(x) / x * (float(np.float32(0.54)) + float(np.float32(0.46)) * math.cos(x))


def _bicubic(x: float) -> float:
    a, x = -0.5, abs(x)
    if x < 1.0:
        return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0:
        return (((x - 5) * x + 8) * x - 4) * a
    return 0.0


def _sinc(x: float) -> float:
    if x == 0.0:
        return 1.0
    x *= math.pi
    return math.sin(x) / x


def _lanczos(x: float) -> float:
    return _sinc(x) * _sinc(x / 3) if -3.0 <= x < 3.0 else 0.0


_KERNELS = {"bilinear": (_bilinear, 1.0), "bicubic": (_bicubic, 2.0),
            "hamming": (_hamming, 1.0), "box": (_box, 0.5), "lanczos": (_lanczos, 3.0)}


@functools.lru_cache(maxsize=512)
@functools.lru_cache(maxsize=512)
def _coeffs(name: str, in_size: int, in0: float, in1: float,
            out_size: int) -> tuple[np.ndarray, np.ndarray]:
    """PIL ``precompute_coeffs`` + ``normalize_coeffs_8bpc`` for one axis (cached: a Python
    loop per output pixel, the same for every image of one size; callers never modify it).

    Returns:
        ``(idx, w)``: source indices ``(out_size, K)`` int64 and fixed-point weights
        ``(out_size, K)`` int64 (0 beyond each pixel's span).
    """
    fn, support = _KERNELS[name]
    scale = (in1 - in0) / out_size
    filterscale = max(scale, 1.0)
    support = support * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    idx = np.zeros((out_size, ksize), np.int64)
    w = np.zeros((out_size, ksize), np.int64)
    one = float(1 << _PRECISION_BITS)
    for xx in range(out_size):  # per output pixel of one axis (not per image pixel)
        center = in0 + (xx + 0.5) * scale
        ss = 1.0 / filterscale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        k = [fn((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        ww = sum_sequential(k)
        k = [v / ww if ww != 0.0 else v for v in k]
        idx[xx, :xmax] = np.arange(xmin, xmin + xmax)
        w[xx, :xmax] = [int(-0.5 + v * one) if v < 0 else int(0.5 + v * one) for v in k]
    return idx, w


def sum_sequential(values: list[float]) -> float:
    """Left-to-right float64 sum (C's ``ww += w`` loop; ``math.fsum`` would round once)."""
    total = 0.0
    for v in values:
        total += v
    return total


def _pass(x: torch.Tensor, taps: tuple[np.ndarray, np.ndarray]) -> torch.Tensor:
    """One PIL resampling pass along axis -1 of an integer tensor: uint8 result."""
    idx = torch.from_numpy(taps[0]).to(x.device)
    w = torch.from_numpy(taps[1]).to(x.device)
    acc = torch.full((*x.shape[:-1], idx.shape[0]), 1 << (_PRECISION_BITS - 1),
                     dtype=torch.int64, device=x.device)
    for k in range(idx.shape[1]):
        acc += x.index_select(-1, idx[:, k]).to(torch.int64) * w[:, k]
    return (acc >> _PRECISION_BITS).clamp_(0, 255).to(torch.uint8)


@functools.lru_cache(maxsize=512)
def _nearest_index(in_size: int, in0: float, in1: float, out_size: int) -> np.ndarray:
    """PIL ``ImagingScaleAffine`` source index per output pixel of one axis (int64)."""
    a = (in1 - in0) / out_size
    steps = np.full(out_size, a)
    steps[0] = in0 + a * 0.5
    pos = np.cumsum(steps)  # sequential float64 adds, as ``xo += a[0]``
    return np.clip(np.where(pos < 0, -1, pos.astype(np.int64)), 0, in_size - 1)


def nearest_indices(in_h: int, in_w: int, size: tuple[int, int],
                    box: tuple[int, int, int, int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """PIL's NEAREST source rows and columns (int64) for a resize of an ``in_h`` x ``in_w``
    image (its ``box`` region, ``(left, top, right, bottom)``) to ``size`` = (height, width)."""
    left, top, right, bottom = box if box is not None else (0, 0, in_w, in_h)
    return (_nearest_index(in_h, top, bottom, int(size[0])),
            _nearest_index(in_w, left, right, int(size[1])))


def resize(images: torch.Tensor, size: tuple[int, int], interpolation: str,
           box: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """``Image.resize((width, height), filter, box=box)`` on the last two axes.

    Args:
        images: ``(..., H, W)`` uint8 tensor (any device).
        size: ``(height, width)`` of the output.
        interpolation: one of ``FILTERS`` (PIL's names, as ``load_img``).
        box: ``(left, top, right, bottom)`` source region (``legacy.crop_box``), or None.

    Returns:
        ``(..., height, width)`` uint8 on ``images.device``.

    Raises:
        ValueError: an unknown ``interpolation`` or a non-uint8 ``images``.
    """
    if interpolation not in FILTERS:
        raise ValueError(f"`interpolation` must be one of {FILTERS}. "
                         f"Received: interpolation={interpolation!r}")
    if images.dtype != torch.uint8:
        raise ValueError(f"PIL resizing here takes uint8 images. Received: {images.dtype}")
    in_h, in_w = int(images.shape[-2]), int(images.shape[-1])
    out_h, out_w = int(size[0]), int(size[1])
    left, top, right, bottom = box if box is not None else (0, 0, in_w, in_h)
    if interpolation == "nearest":
        rows, cols = (torch.from_numpy(a).to(images.device)
                      for a in nearest_indices(in_h, in_w, size, box))
        return images.index_select(-2, rows).index_select(-1, cols)
    if box is not None and right - left == out_w and bottom - top == out_h:
        return images[..., top:bottom, left:right].contiguous()  # PIL crops: no filter
    horizontal = out_w != in_w or left != 0 or right != out_w  # PIL's need_horizontal
    vertical = out_h != in_h or top != 0 or bottom != out_h
    h_taps = _coeffs(interpolation, in_w, float(left), float(right), out_w) if horizontal else None
    v_taps = _coeffs(interpolation, in_h, float(top), float(bottom), out_h) if vertical else None
    out = images
    first_vertical = _VERTICAL_FIRST and out_h < in_h and in_h - out_h > 2 * (in_w - out_w)
    for axis in (("v", "h") if first_vertical else ("h", "v")):
        if axis == "h" and h_taps is not None:
            out = _pass(out, h_taps)
        elif axis == "v" and v_taps is not None:
            out = _pass(out.transpose(-1, -2), v_taps).transpose(-1, -2)
    return out.contiguous() if out is not images else images.clone()

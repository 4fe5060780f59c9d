"""The compiled resampler ``_warp.c``: scipy's affine arithmetic bit for bit (keras-semantics §A11.3).

The extension is optional (``setup.py`` builds it where a C compiler exists). Where it is
missing, or for tensors it does not take (not on the CPU, not float32/float64), the torch
kernels of ``_sampling.py`` / ``_bilinear.py`` run instead. It computes every position in
float64 in scipy's order, maps it per fill mode as scipy does and interpolates in float64, so
its output equals ``scipy.ndimage.affine_transform`` per channel exactly; it splits the rows
over ``torch.get_num_threads()`` threads with the GIL released.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

try:
    from kdir_torch.augment import _warp
except ImportError:  # not compiled: the torch kernels serve
    _warp = None

#: Whether the compiled kernel is used when it can be (tests switch it off to run the torch
#: kernels on the same cases).
ENABLED = True
#: Whether its AVX2 path may run (tests switch it off to check the portable path).
SIMD = True

_MODES = {"constant": 0, "nearest": 1, "reflect": 2, "wrap": 3}


def available() -> bool:
    """Whether the compiled CPU kernel is built (at install, where a C compiler exists) and
    enabled; without it the torch kernels resample, slower and exact only to float rounding."""
    return _warp is not None and ENABLED


def usable(x: Tensor) -> bool:
    """The compiled kernel takes ``x``: it is available and ``x`` is a float32/float64 CPU tensor."""
    return available() and x.device.type == "cpu" and x.dtype in (torch.float32, torch.float64)


def _flat(t: Tensor) -> np.ndarray:
    return t.as_strided((t.numel(),), (1,)).numpy()


def warp(x: Tensor, m: np.ndarray, order: int, mode: str, cval: float,
         hflip: np.ndarray | None = None, vflip: np.ndarray | None = None) -> Tensor:
    """Resample ``x`` like scipy's ``affine_transform`` per channel, then flip (exactly).

    Args:
        x: ``(B, C, H, W)`` float32/float64 CPU tensor (any layout; a non-dense one is copied).
        m: ``(B, 3, 3)`` float64 host matrices, output ``(row, col, 1)`` -> input.
        order: 0 or 1. mode: a fill mode. cval: fill value for ``constant``.
        hflip, vflip: ``(B,)`` bool, samples whose result is mirrored left-right / up-down.

    Returns:
        New ``(B, C, H, W)`` tensor of x's dtype and memory format.
    """
    x = x.detach()
    if not (x.is_contiguous() or x.is_contiguous(memory_format=torch.channels_last)):
        x = x.contiguous()
    out = torch.empty_like(x)
    flips = None
    if hflip is not None or vflip is not None:
        b = x.shape[0]
        h = np.zeros(b, bool) if hflip is None else np.asarray(hflip, bool)
        v = np.zeros(b, bool) if vflip is None else np.asarray(vflip, bool)
        flips = (h.astype(np.uint8) | (v.astype(np.uint8) << 1)).tobytes()
    _warp.warp(_flat(x), _flat(out), np.ascontiguousarray(m, dtype=np.float64), flips,
               tuple(x.shape), x.stride(), out.stride(), order, _MODES[mode], float(cval),
               x.dtype == torch.float64, SIMD, torch.get_num_threads())
    return out

"""Batched resampling with ``scipy.ndimage.affine_transform`` semantics (keras-semantics §A11.3).

Output pixel ``(r, c)`` of sample ``b`` reads the input at ``A_b @ (r, c, 1)``. Source
coordinates are computed in float64 in scipy's operation order (``(a2 + r*a0) + c*a1``), out-of-range
coordinates are mapped per fill mode exactly like scipy's ``map_coordinate``, and
interpolation is either a rounding gather (order 0, scipy's ``floor(x + 0.5)`` rule) or
bilinear (order 1, ``torch.nn.functional.grid_sample``, in ``_bilinear.py``, which also makes
integer positions exact), where the fill modes are:

* ``nearest``: edge replicate = clamp the coordinate (grid_sample ``border``).
* ``reflect``: half-sample symmetric ``dcba|abcd|dcba`` (grid_sample ``reflection`` with
  ``align_corners=False`` is the same reflection).
* ``wrap``: scipy's period ``n - 1`` wrap (first and last samples coincide), mapped here.
* ``constant``: ``cval`` wherever the coordinate leaves ``[0, n - 1]`` on either axis (scipy >= 1.6
  ``constant``, not ``grid-constant``: no blending with ``cval`` near the border).

Everything is tensor ops on the input's device; no Python loop over pixels or samples.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def source_coords(m: Tensor, h: int, w: int) -> tuple[Tensor, Tensor]:
    """Input row and column read by every output pixel.

    Args:
        m: ``(B, 3, 3)`` float64 matrices mapping output ``(row, col, 1)`` to input.
        h: output height. w: output width.

    Returns:
        ``(rows, cols)``, each ``(B, h, w)`` float64.
    """
    r = torch.arange(h, dtype=torch.float64, device=m.device)
    c = torch.arange(w, dtype=torch.float64, device=m.device)
    out = []
    for k in (0, 1):
        row_part = m[:, k, 2, None] + r * m[:, k, 0, None]  # scipy starts from the offset
        out.append(row_part[:, :, None] + (c * m[:, k, 1, None])[:, None, :])
    return out[0], out[1]


def _reflect(cc: Tensor, n: int) -> Tensor:
    sz2 = 2.0 * n
    a = torch.where(cc < -sz2, sz2 * torch.trunc(-cc / sz2) + cc, cc)
    a = torch.where(a < -n, a + sz2, -a - 1)
    b = cc - sz2 * torch.trunc(cc / sz2)
    b = torch.where(b >= n, sz2 - b - 1, b)
    return torch.where(cc < 0, a, torch.where(cc > n - 1, b, cc))


def _wrap(cc: Tensor, n: int) -> Tensor:
    sz = float(n - 1)
    a = cc + sz * (torch.trunc(-cc / sz) + 1)
    b = cc - sz * torch.trunc(cc / sz)
    return torch.where(cc < 0, a, torch.where(cc > n - 1, b, cc))


def map_axis(cc: Tensor, n: int, mode: str) -> tuple[Tensor, Tensor | None]:
    """Map coordinates along an axis of length ``n`` into ``[0, n - 1]`` like scipy.

    Taps that scipy would take outside the axis (e.g. ``-1`` after reflection) read the
    same pixel as the clamped coordinate, so clamping after the mode's map is exact.

    Args:
        cc: float64 coordinates. n: axis length. mode: a fill mode.

    Returns:
        ``(mapped, valid)``: mapped float64 coordinates in ``[0, n - 1]``; ``valid`` is the
        bool mask of in-range coordinates for ``constant`` (None for other modes).
    """
    if mode == "constant":
        return cc.clamp(0, n - 1), (cc >= 0) & (cc <= n - 1)
    if n <= 1:
        return torch.zeros_like(cc), None
    if mode == "reflect":
        cc = _reflect(cc, n)
    elif mode == "wrap":
        cc = _wrap(cc, n)
    return cc.clamp(0, n - 1), None


def _both(a: Tensor | None, b: Tensor | None) -> Tensor | None:
    return a if b is None else b if a is None else a & b


def _fill(out: Tensor, valid: Tensor | None, cval: float) -> Tensor:
    if valid is None:
        return out
    return torch.where(valid[:, None], out, torch.tensor(cval, dtype=out.dtype, device=out.device))


def sample_nearest(x: Tensor, m: Tensor, mode: str, cval: float) -> Tensor:
    """Order-0 resampling (scipy's rounding rule ``floor(x + 0.5)``).

    Args:
        x: ``(B, C, H, W)`` floating. m: ``(B, 3, 3)`` float64 on x's device.
        mode: fill mode. cval: fill value for ``constant``.

    Returns:
        ``(B, C, H, W)`` tensor of x's dtype.
    """
    b, c, h, w = x.shape
    rows, cols = source_coords(m, h, w)
    rows, valid_r = map_axis(rows, h, mode)
    cols, valid_c = map_axis(cols, w, mode)
    ir = (rows + 0.5).floor_().long().clamp_(0, h - 1)
    ic = (cols + 0.5).floor_().long().clamp_(0, w - 1)
    idx = ir.mul_(w).add_(ic).reshape(b, 1, h * w).expand(b, c, h * w)
    out = x.reshape(b, c, h * w).gather(2, idx).reshape(b, c, h, w)
    return _fill(out, _both(valid_r, valid_c), cval)


def _norm(n: int, align_corners: bool) -> tuple[float, float]:
    """Scale and bias taking a pixel coordinate to grid_sample's ``[-1, 1]`` convention."""
    if align_corners:
        return (2.0 / (n - 1), -1.0) if n > 1 else (0.0, 0.0)
    return 2.0 / n, 1.0 / n - 1.0


def _direct_grid(m: np.ndarray, h: int, w: int, dtype: torch.dtype, align_corners: bool,
                 device: torch.device) -> Tensor:
    """Normalised sampling grid ``(B, h, w, 2)`` on ``device``, computed straight in ``dtype``
    from host float64 matrices ``m``: an axis is ``row_part[r] + col_part[c]``, the small
    parts in numpy (float64, then rounded to ``dtype``), the broadcast sum in torch."""
    r, c = np.arange(h, dtype=np.float64), np.arange(w, dtype=np.float64)
    (sx, bx), (sy, by) = _norm(w, align_corners), _norm(h, align_corners)
    a = m[:, [1, 0], :] * np.array([sx, sy])[None, :, None]  # grid x reads columns, y rows
    row_part = r * a[:, :, 0, None] + (a[:, :, 2, None] + np.array([bx, by])[None, :, None])
    col_part = c * a[:, :, 1, None]
    npdt = np.float64 if dtype == torch.float64 else np.float32
    rp, cp = (torch.from_numpy(t.astype(npdt)).to(device) for t in (row_part, col_part))
    # planar (B, 2, h, w) storage: a broadcast add into contiguous planes is ~3x faster than
    # into interleaved (x, y) pairs, and grid_sample reads the permuted view as fast
    grid = torch.empty(m.shape[0], 2, h, w, dtype=dtype, device=device)
    torch.add(rp[:, :, :, None], cp[:, :, None, :], out=grid)
    return grid.permute(0, 2, 3, 1)


def _mapped_grid(rows: Tensor, cols: Tensor, dtype: torch.dtype) -> Tensor:
    """Normalised grid ``(B, h, w, 2)`` (align_corners) of float64-mapped coordinates
    (a view of planar ``(B, 2, h, w)`` storage, see ``_direct_grid``). Consumes ``rows`` and
    ``cols`` (normalised in place)."""
    b, h, w = rows.shape
    grid = torch.empty(b, 2, h, w, dtype=dtype, device=rows.device)
    for cc, n, slot in ((cols, w, 0), (rows, h, 1)):
        scale, bias = _norm(n, True)
        grid[:, slot] = cc.mul_(scale).add_(bias)
    return grid.permute(0, 2, 3, 1)

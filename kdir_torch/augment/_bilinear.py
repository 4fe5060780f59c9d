"""Order-1 (bilinear) resampling with scipy's exact pixels at integer positions (KERAS_SPEC §A11.3).

scipy's linear spline read at a mapped coordinate that is an integer on both axes returns that
input pixel exactly (weights 1 and 0). ``grid_sample`` does not: its ``[-1, 1]`` grid
normalisation rounds, so an integer ``tx`` gave errors of ``1e-16`` (float64) to ``1e-4``
(float32) times the neighbours' difference. Integer positions are therefore found and read
exactly, without a dense pass over the batch in the common case:

* A sample whose matrix is integral (integer shifts, flips, exact quarter turns) lands on
  integers everywhere: it is read with ``grid_sample(mode="nearest")`` on the same grid,
  which rounds the slightly-off coordinates back to the exact pixel (and is cheaper).
* For any other sample an axis coordinate is ``R[r] + P[c]`` (``R = a2 + r*a0``,
  ``P = c*a1``, scipy's float64 operation order); it can be an integer only where the
  fractional parts of ``R`` and ``P`` add up to an integer. Sorting ``frac(P)`` and
  binary-searching ``-frac(R)`` finds every candidate pixel in ``O(B·h·log w)``; candidates
  are then checked exactly with the coordinates recomputed in scipy's order and mapped per
  fill mode (``nearest`` makes an out-of-range coordinate the edge, an integer), and the
  pixels that pass are overwritten with their input pixel. When there are very many
  candidates (e.g. a zoom of exactly 0.5 about a pixel, or an integral shift on one axis
  only), a dense test on the float64 coordinates finds them instead.

Everything is batched tensor work on the input's device; no Python loop over pixels or samples.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from kdir_torch.augment._sampling import (
    _both, _direct_grid, _fill, _mapped_grid, map_axis, source_coords,
)

_DENSE_FRACTION = 16  # more candidates than pixels / 16: test every pixel instead


def integral_matrices(m: Tensor) -> Tensor:
    """``(B,)`` bool: the sample's 2x3 affine part is all integers (every position integral)."""
    top = m[:, :2, :]
    return (top == top.round()).all(dim=(1, 2))


def _axis_candidates(m: Tensor, k: int, h: int, w: int, skip: Tensor) -> tuple[Tensor, ...] | None:
    """Pixels ``(b, r, c)`` whose axis-``k`` coordinate may be an integer (a superset).

    Returns:
        Three int64 tensors, or None when the candidates are too many (use a dense test).
    """
    b = m.shape[0]
    r = torch.arange(h, dtype=torch.float64, device=m.device)
    c = torch.arange(w, dtype=torch.float64, device=m.device)
    big_r = m[:, k, 2, None] + r * m[:, k, 0, None]  # (B, h), as source_coords
    big_p = c * m[:, k, 1, None]  # (B, w)
    # tolerance far above the rounding of R + P (a few ulps of the largest coordinate)
    tol = float((big_r.abs().amax() + big_p.abs().amax() + 1.0) * 2.0 ** -44)
    frac_p, order = (big_p - big_p.round()).sort(dim=1)
    queries = torch.tensor([-1.0, 0.0, 1.0], dtype=torch.float64, device=m.device) \
        - (big_r - big_r.round())[:, :, None]  # (B, h, 3): frac(P) = j - frac(R)
    queries = queries.reshape(b, 3 * h)
    lo = torch.searchsorted(frac_p, queries - tol)
    counts = torch.searchsorted(frac_p, queries + tol, right=True) - lo
    counts[skip] = 0
    flat = counts.reshape(-1)
    total = int(flat.sum())
    if total > b * h * w // _DENSE_FRACTION:
        return None
    rows_of = torch.arange(b * 3 * h, device=m.device).repeat_interleave(flat)
    first = torch.cumsum(flat, 0) - flat
    pos = lo.reshape(-1).repeat_interleave(flat) + torch.arange(total, device=m.device) \
        - first.repeat_interleave(flat)
    bi, ri = rows_of // (3 * h), (rows_of % (3 * h)) // 3
    return bi, ri, order[bi, pos]


def _dense_candidates(m: Tensor, h: int, w: int, mode: str, skip: Tensor) -> tuple[Tensor, ...]:
    """Every pixel whose coordinates are integral on both axes after the fill mode's mapping
    (``reflect``/``wrap`` keep integrality, ``nearest`` clamps to an edge): a dense test."""
    rows, cols = source_coords(m, h, w)
    exact = (~skip)[:, None, None].expand(-1, h, w)
    for cc, n in ((rows, h), (cols, w)):
        if n > 1 or mode == "constant":  # an axis of length 1 maps everything to 0
            cc = cc.clamp(0, n - 1) if mode == "nearest" else cc
            exact = exact & (cc == cc.floor())
    return exact.nonzero(as_tuple=True)


def _candidates(m: Tensor, h: int, w: int, mode: str, skip: Tensor) -> tuple[Tensor, ...]:
    """Pixels that may read an integer position on both axes (a superset)."""
    if min(h, w) <= 1 and mode != "constant":  # a length-1 axis maps everything to 0
        return _dense_candidates(m, h, w, mode, skip)
    on_rows = _axis_candidates(m, 0, h, w, skip)
    if mode != "nearest":  # both axes must be integral: either axis's candidates will do
        on_axis = on_rows if on_rows is not None else _axis_candidates(m, 1, h, w, skip)
        return on_axis if on_axis is not None else _dense_candidates(m, h, w, mode, skip)
    on_cols = _axis_candidates(m, 1, h, w, skip) if on_rows is not None else None
    if on_cols is None:  # nearest: an out-of-range (clamped) axis is integral too
        return _dense_candidates(m, h, w, mode, skip)
    key = torch.cat([(bi * h + ri) * w + ci for bi, ri, ci in (on_rows, on_cols)]).unique()
    return key // (h * w), (key // w) % h, key % w


def _exact_pixels(m: Tensor, h: int, w: int, mode: str, skip: Tensor) -> tuple[Tensor, ...]:
    """``(b, r, c, source_row, source_col)`` of the output pixels that read an integer
    position on both axes (after the fill mode's mapping), skipping samples ``skip``."""
    bi, ri, ci = _candidates(m, h, w, mode, skip)
    mb = m[bi]  # the same float64 operations as source_coords, per candidate
    r, c = ri.to(torch.float64), ci.to(torch.float64)
    rows = map_axis((mb[:, 0, 2] + r * mb[:, 0, 0]) + c * mb[:, 0, 1], h, mode)[0]
    cols = map_axis((mb[:, 1, 2] + r * mb[:, 1, 0]) + c * mb[:, 1, 1], w, mode)[0]
    keep = (rows == rows.floor()) & (cols == cols.floor())
    return bi[keep], ri[keep], ci[keep], rows[keep].long(), cols[keep].long()


def sample_bilinear(x: Tensor, m: Tensor, mode: str, cval: float) -> Tensor:
    """Order-1 resampling (scipy's linear spline, which is bilinear interpolation).

    ``nearest`` and ``reflect`` are continuous in the coordinate, so the grid is built
    directly in x's dtype; ``wrap`` and ``constant`` jump at the border, so their
    coordinates are mapped in float64 first to make the same decisions as scipy. Output
    pixels that read an integer position are that input pixel exactly (module docstring).

    Args:
        x: ``(B, C, H, W)`` float32 or float64. m: ``(B, 3, 3)`` float64 on x's device.
        mode: fill mode. cval: fill value for ``constant``.

    Returns:
        ``(B, C, H, W)`` tensor of x's dtype.
    """
    h, w = x.shape[-2:]
    valid = None
    if mode in ("nearest", "reflect"):
        align = mode == "nearest"
        grid = _direct_grid(m, h, w, x.dtype, align_corners=align)
        opts = {"padding_mode": "border" if align else "reflection", "align_corners": align}
    else:
        rows, cols = source_coords(m, h, w)
        (rows, valid_r), (cols, valid_c) = map_axis(rows, h, mode), map_axis(cols, w, mode)
        valid = _both(valid_r, valid_c)
        grid = _mapped_grid(rows, cols, x.dtype)
        opts = {"padding_mode": "border", "align_corners": True}
    integral = integral_matrices(m)
    if bool(integral.all()):
        return _fill(F.grid_sample(x, grid, mode="nearest", **opts), valid, cval)
    out = F.grid_sample(x, grid, mode="bilinear", **opts)
    if bool(integral.any()):
        sel = integral.nonzero()[:, 0]
        out[sel] = F.grid_sample(x[sel], grid[sel], mode="nearest", **opts)
    bi, ri, ci, sr, sc = _exact_pixels(m, h, w, mode, integral)
    if bi.numel():
        out.permute(0, 2, 3, 1)[bi, ri, ci] = x.permute(0, 2, 3, 1)[bi, sr, sc]
    return _fill(out, valid, cval)

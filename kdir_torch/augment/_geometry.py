"""Affine matrices of Keras's ``apply_affine_transform`` (keras-semantics §A11.1), batched in numpy."""

from __future__ import annotations

import numpy as np


def _stack3(rows: list[list[np.ndarray]]) -> np.ndarray:
    return np.stack([np.stack(r, axis=-1) for r in rows], axis=-2)


def sincos_degrees(degrees: np.ndarray, exact: bool) -> tuple[np.ndarray, np.ndarray]:
    """``sin``/``cos`` of ``deg2rad(degrees)`` as Keras computes them; with ``exact``, multiples
    of 90 degrees give exact 0/+-1 (so e.g. a 180-degree turn maps pixels exactly)."""
    rad = np.deg2rad(degrees)
    s, c = np.sin(rad), np.cos(rad)
    if exact:
        quarter = np.round(degrees / 90.0)
        on_axis = np.isfinite(degrees) & (degrees == quarter * 90.0)
        k = np.mod(np.where(on_axis, quarter, 0), 4).astype(np.int64)
        s = np.where(on_axis, np.array([0.0, 1.0, 0.0, -1.0])[k], s)
        c = np.where(on_axis, np.array([1.0, 0.0, -1.0, 0.0])[k], c)
    return s, c


def keras_matrices(
    theta: np.ndarray,
    tx: np.ndarray,
    ty: np.ndarray,
    shear: np.ndarray,
    zx: np.ndarray,
    zy: np.ndarray,
    *,
    h: int,
    w: int,
    keras_quirks: bool,
) -> np.ndarray:
    """``(B, 3, 3)`` float64 matrices mapping output ``(row, col, 1)`` to the input read.

    ``M = R . T . S . Z`` in the ``(x=column, y=row)`` frame, centred with
    ``C(o) . M . C(-o)``, then the axis swap ``P A P``. Quirks: Keras's centre
    ``(h/2 - 0.5, w/2 - 0.5)`` on ``(x, y)`` and ``(tx, ty)`` on ``(x, y)``; documented: centre
    ``((w-1)/2, (h-1)/2)`` and ``(ty, tx)`` on ``(x, y)``. Products use ``np.matmul`` on
    contiguous stacks, the same BLAS call as Keras's ``np.dot``, so quirk matrices are Keras's
    bit for bit.

    Args:
        theta, tx, ty, shear, zx, zy: ``(B,)`` float64 (angles in degrees, shifts in pixels).
        h: image height. w: image width. keras_quirks: Keras 3's geometry or the documented one.

    Returns:
        ``(B, 3, 3)`` float64 C-contiguous array.
    """
    (s_th, c_th), (s_sh, c_sh) = (sincos_degrees(t, exact=not keras_quirks) for t in (theta, shear))
    one, zero = np.ones_like(tx), np.zeros_like(tx)
    tu, tv = (tx, ty) if keras_quirks else (ty, tx)
    u0, v0 = (h / 2 - 0.5, w / 2 - 0.5) if keras_quirks else (w / 2 - 0.5, h / 2 - 0.5)
    rot = _stack3([[c_th, -s_th, zero], [s_th, c_th, zero], [zero, zero, one]])
    shift = _stack3([[one, zero, tu], [zero, one, tv], [zero, zero, one]])
    shear_m = _stack3([[one, -s_sh, zero], [zero, c_sh, zero], [zero, zero, one]])
    zoom = _stack3([[zx, zero, zero], [zero, zy, zero], [zero, zero, one]])
    m = np.matmul(np.matmul(np.matmul(rot, shift), shear_m), zoom)
    # Contiguous stacks (not broadcast views), so matmul takes the same BLAS path as np.dot.
    offset = np.repeat(np.array([[[1.0, 0.0, u0], [0.0, 1.0, v0], [0.0, 0.0, 1.0]]]), len(tx), axis=0)
    reset = np.repeat(np.array([[[1.0, 0.0, -u0], [0.0, 1.0, -v0], [0.0, 0.0, 1.0]]]), len(tx), axis=0)
    m = np.matmul(np.matmul(offset, m), reset)
    return np.ascontiguousarray(m[:, [1, 0, 2]][:, :, [1, 0, 2]])  # (x, y) -> (row, col)


def fold_flips(m: np.ndarray, hflip: np.ndarray, vflip: np.ndarray, h: int,
               w: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Compose the flips of resampled samples into their matrices (``A . F_h . F_v``).

    Flips commute with the channel shift (global min/max, elementwise), so flipping inside the
    resampling equals Keras's resample-shift-flip order and saves two passes over the batch.
    Used only where interpolation is continuous in the coordinate (order 1, ``nearest`` /
    ``reflect``), so the changed rounding of the coordinates cannot flip a decision.

    Args:
        m: ``(B, 3, 3)`` float64 (host). hflip, vflip: ``(B,)`` bool. h, w: image size.

    Returns:
        ``(matrices, remaining_hflip, remaining_vflip)``; identity samples keep their flips.
    """
    moving = ~(m == np.eye(3)).all(axis=(1, 2))
    hf, vf = hflip & moving, vflip & moving
    row, col = m[:, :2, 0], m[:, :2, 1]
    out = m.copy()
    shift = np.where(hf[:, None], col * (w - 1), 0.0) + np.where(vf[:, None], row * (h - 1), 0.0)
    out[:, :2, 2] = m[:, :2, 2] + shift
    out[:, :2, 1] = np.where(hf[:, None], -col, col)
    out[:, :2, 0] = np.where(vf[:, None], -row, row)
    return out, hflip & ~hf, vflip & ~vf

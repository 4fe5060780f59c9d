"""Keras's deterministic module-level transforms (``keras.src.legacy.preprocessing.image``).

``apply_affine_transform``, ``apply_channel_shift``, ``apply_brightness_shift``, ``flip_axis``
and ``transform_matrix_offset_center`` with Keras 3's names, arguments, defaults, axis
conventions and pixels (keras-semantics §A11). Numpy in -> numpy out; torch tensors are accepted
too and come back as tensors on their device. Each is a thin wrapper: the axes are moved to
``(1, C, H, W)``, a kernel of :mod:`kdir_torch.augment.functional` runs, the axes move back.

``apply_affine_transform`` reproduces Keras 3's *actual* geometry (§A11.1), quirks included:
the centre ``(h/2 - 0.5, w/2 - 0.5)`` is applied to ``(column, row)`` (off-centre on
non-square images), and with ``col_axis > row_axis`` ``tx > 0`` moves content left and
``ty > 0`` up. These are Keras's own functions, called to get Keras's output; the documented
geometry is ``ImageDataGenerator`` / ``Augment`` with ``keras_quirks=False``.

Not as Keras: only interpolation orders 0 and 1 and the fill modes constant / nearest /
reflect / wrap (Keras passes any scipy mode and order through); every result is a new array
(Keras's ``flip_axis`` returns a view, and ``apply_affine_transform`` returns its input when
nothing moves); a negative ``channel_axis`` of ``apply_channel_shift`` is an ordinary axis
index (Keras returns ``-1`` input channels-first); integer images are shifted without
wrap-around.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from kdir_torch.augment import _geometry
from kdir_torch.augment import functional as F
from kdir_torch.augment._draws import FILL_MODES, check_real
from kdir_torch.keras._array_helpers import as_tensor_view, back_to_kind, standardize_data_format

__all__ = [
    "apply_affine_transform",
    "apply_brightness_shift",
    "apply_channel_shift",
    "flip_axis",
    "transform_matrix_offset_center",
]


def scalar(name: str, value: Any) -> float:
    """A real number (Python, numpy or a one-element tensor) as a float."""
    if isinstance(value, Tensor) and value.numel() == 1 and not value.is_complex():
        return float(value)
    return check_real(name, value)


def check_order(name: str, order: Any) -> int:
    """Interpolation order 0 or 1 (the library's rule: no spline orders)."""
    if isinstance(order, bool) or order not in (0, 1):
        raise ValueError(
            f"`{name}` must be 0 (nearest) or 1 (bilinear); only orders 0 and 1 are supported. "
            f"Received: {name}={order!r}"
        )
    return int(order)


def _check_axes(row_axis: Any, col_axis: Any, channel_axis: Any) -> None:
    """Keras's axis checks of ``apply_affine_transform`` (§A16), in Keras's order."""
    axes = {row_axis, col_axis, channel_axis}
    if len(axes) != 3:
        raise ValueError("'row_axis', 'col_axis', and 'channel_axis' must be distinct")
    if axes != {0, 1, 2}:
        raise ValueError(f"Invalid axis' indices: {axes - {0, 1, 2}}")


def _torch_dtype(dtype: np.dtype) -> torch.dtype:
    return torch.from_numpy(np.empty(0, dtype)).dtype


def _scipy_cast(y: Tensor, dtype: torch.dtype) -> Tensor:
    """scipy.ndimage's float -> integer output rule: round half away from zero, then clip."""
    info = torch.iinfo(dtype)
    r = torch.trunc(y + torch.copysign(torch.full_like(y, 0.5), y))
    return r.clamp(info.min, info.max).to(dtype)


def apply_affine_transform(
    x: Any,
    theta: float = 0,
    tx: float = 0,
    ty: float = 0,
    shear: float = 0,
    zx: float = 1,
    zy: float = 1,
    row_axis: int = 1,
    col_axis: int = 2,
    channel_axis: int = 0,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    order: int = 1,
) -> np.ndarray | Tensor:
    """Keras's ``apply_affine_transform``: one affine resampling of a single image (§A11.1).

    ``M = R(theta) . T(tx, ty) . S(shear) . Z(zx, zy)`` (degrees, pixels), centred with
    Keras's ``transform_matrix_offset_center(M, h, w)``, rows and columns swapped when
    ``col_axis > row_axis``, then every channel resampled like ``scipy.ndimage.affine_transform``.

    Args:
        x: rank-3 image (numpy array or tensor, any device), axes given by the next arguments.
        theta: rotation (degrees). tx, ty: shifts (pixels). shear: shear angle (degrees).
        zx, zy: zooms (``< 1`` zooms in).
        row_axis, col_axis, channel_axis: a permutation of 0, 1, 2; channels first or last.
        fill_mode: "constant", "nearest", "reflect" or "wrap" (scipy's meanings, §A11.3).
        cval: value outside the image for "constant".
        order: 0 (nearest) or 1 (bilinear).

    Returns:
        A new image shaped and typed like ``x`` (numpy for numpy input). Integer images are
        resampled in float64 and rounded half away from zero, then clipped, as scipy does.

    Raises:
        ValueError: Keras's axis / rank texts (§A16), or an unsupported ``order`` /
            ``fill_mode``.
        TypeError: a non-numeric parameter or image.
    """
    _check_axes(row_axis, col_axis, channel_axis)
    t, numpy_in = as_tensor_view(x)
    if t.dim() != 3:
        raise ValueError("Input arrays must be multi-channel 2D images.")
    if channel_axis not in (0, 2):
        raise ValueError("Channels are allowed and the first and last dimensions.")
    order = check_order("order", order)
    if fill_mode not in FILL_MODES:
        raise ValueError(f"`fill_mode` must be one of {FILL_MODES}. Received: fill_mode={fill_mode!r}")
    if t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"`x` must be a real-valued image. Received dtype={t.dtype}")
    names = ("theta", "tx", "ty", "shear", "zx", "zy")
    values = [scalar(n, v) for n, v in zip(names, (theta, tx, ty, shear, zx, zy))]
    if values == [0.0, 0.0, 0.0, 0.0, 1.0, 1.0]:
        return back_to_kind(t.clone(), numpy_in)
    h, w = int(t.shape[row_axis]), int(t.shape[col_axis])
    m = _geometry.keras_matrices(*(np.array([v]) for v in values), h=h, w=w, keras_quirks=True)
    if col_axis < row_axis:  # Keras swaps only for col_axis > row_axis: undo the swap
        m = np.ascontiguousarray(m[:, [1, 0, 2]][:, :, [1, 0, 2]])
    planes = t.movedim(channel_axis, 0)  # the other two axes keep their order, as np.rollaxis
    work = planes if planes.is_floating_point() else planes.to(torch.float64)
    out = F.affine_transform(work[None], torch.from_numpy(m), order, fill_mode, float(cval))[0]
    if not t.is_floating_point():
        out = _scipy_cast(out, t.dtype)
    return back_to_kind(out.movedim(0, channel_axis).contiguous(), numpy_in)


def apply_channel_shift(x: Any, intensity: float, channel_axis: int = 0) -> np.ndarray | Tensor:
    """Keras's ``apply_channel_shift``: add ``intensity`` everywhere, clip to the image's range (§A11.4).

    Every channel gets the same shift and the clip bounds are the global minimum and maximum,
    so the result does not depend on ``channel_axis`` (which is only checked).

    Args:
        x: image (numpy array or tensor).
        intensity: the shift.
        channel_axis: index of the channel axis (negative counts from the end).

    Returns:
        A new array shaped like ``x``, of the dtype ``x + intensity`` has (numpy's rules for
        arrays, so float32 stays float32 with a Python float; torch's for tensors).

    Raises:
        numpy.exceptions.AxisError: ``channel_axis`` out of range (a ValueError, as in Keras).
    """
    t, numpy_in = as_tensor_view(x)
    if not isinstance(channel_axis, (int, np.integer)) or not -t.dim() <= channel_axis < t.dim():
        raise np.exceptions.AxisError(f"axis {channel_axis} is out of bounds for array of dimension {t.dim()}")
    s = scalar("intensity", intensity)
    if numpy_in:  # numpy's promotion: a Python float is weak, a numpy float64 is not
        ref = intensity if isinstance(intensity, (int, float, np.generic)) else s
        out_dtype = _torch_dtype(np.result_type(t.numpy().dtype, ref))
    else:
        out_dtype = torch.result_type(t, s)
    work = t.to(out_dtype if out_dtype.is_floating_point else torch.float64)
    flat = work.reshape(1, 1, 1, -1)
    out = F.channel_shift(flat, torch.tensor([s], dtype=torch.float64)).reshape(t.shape)
    return back_to_kind(out.to(out_dtype), numpy_in)


def _min_max_255(x: Tensor) -> Tensor:
    """``array_to_img(scale=True)``'s float32 maths: ``x - min``, over its max when not 0, times 255."""
    shifted = x - x.amin()
    peak = shifted.amax()
    return (shifted / peak if bool(peak != 0) else shifted) * 255


def apply_brightness_shift(
    x: Any, brightness: float, scale: bool = True, *, data_format: str | None = None
) -> np.ndarray | Tensor:
    """Keras's ``apply_brightness_shift`` through PIL's ``ImageEnhance.Brightness`` (§A11.5).

    The image becomes uint8 levels like ``array_to_img`` (min-max scaled to 0..255 first when
    ``scale`` or when it leaves [0, 255]; truncation), every colour level becomes
    ``trunc(v * brightness)`` clipped to 0..255 (a 4th channel is alpha and is kept), and,
    only when ``scale`` is False and the image left [0, 255], the result is mapped back with
    ``v / 255 * (max - min) + min``. So with the default ``scale=True`` the result is in 0..255.

    Args:
        x: rank-3 image with 1, 3 or 4 channels (numpy array or tensor).
        brightness: the enhancement factor (1 keeps the levels).
        scale: always min-max scale to 0..255 (and never map back).
        data_format: keyword-only, layout of ``x``: Keras reads its global
            ``image_data_format()`` here, whose default "channels_last" is our None.

    Returns:
        A new array shaped like ``x``: float32, or, when mapped back, the promotion of
        float32 with ``x``'s dtype (numpy's rule for arrays, torch's for tensors), as Keras.

    Raises:
        ValueError: rank not 3 or a channel count other than 1, 3, 4 (``array_to_img``'s texts).
    """
    fmt = standardize_data_format(data_format)
    t, numpy_in = as_tensor_view(x)
    if t.dim() != 3:
        raise ValueError(
            "Expected image array to have rank 3 (single image). "
            f"Got array with shape: {tuple(t.shape)}"
        )
    chw = t if fmt == "channels_first" else t.permute(2, 0, 1)
    if chw.shape[0] not in (1, 3, 4):
        raise ValueError(f"Unsupported channel number: {chw.shape[0]}")
    factor = torch.tensor([scalar("brightness", brightness)], dtype=torch.float64)
    lo, hi = (float(v) for v in torch.aminmax(t if t.dtype != torch.bool else t.to(torch.uint8)))
    map_back = not scale and (lo < 0 or hi > 255)
    if scale:  # pre-scaled to 0..255, where the kernel only truncates to levels
        out = F.brightness(_min_max_255(chw.to(torch.float32)), factor)
    else:
        wide = chw.dtype == torch.float64 or not chw.is_floating_point()
        out = F.brightness(chw.to(torch.float64 if wide else torch.float32), factor)
    out_dtype = torch.float32
    if map_back:
        out_dtype = (_torch_dtype(np.result_type(np.float32, t.numpy().dtype)) if numpy_in
                     else torch.promote_types(torch.float32, t.dtype))
    out = out.to(out_dtype)
    return back_to_kind(out if fmt == "channels_first" else out.permute(1, 2, 0).contiguous(), numpy_in)


def flip_axis(x: Any, axis: int) -> np.ndarray | Tensor:
    """Keras's ``flip_axis``: reverse ``x`` along ``axis`` (any rank, any dtype).

    Returns:
        A new array (numpy for non-tensor input; Keras returns a view).
    """
    if isinstance(x, Tensor):
        return x.flip(int(axis))
    return np.flip(np.asarray(x), axis).copy()


def transform_matrix_offset_center(matrix: Any, x: float, y: float) -> np.ndarray | Tensor:
    """Keras's ``transform_matrix_offset_center``: ``C(o) . matrix . C(-o)``, ``o = (x/2 - 0.5, y/2 - 0.5)``.

    Keras passes ``x = h`` (rows) and ``y = w`` (columns) but applies ``o`` to the matrix's
    first two coordinates, which is the off-centre quirk of §A11.1.

    Args:
        matrix: ``(3, 3)`` numpy array or tensor.
        x, y: the sizes whose half (minus 0.5) is the offset.

    Returns:
        ``(3, 3)`` float64 (numpy's promotion) array, or a tensor on ``matrix``'s device.

    Raises:
        ValueError: ``matrix`` is not 3 x 3.
    """
    m = matrix.detach().cpu().numpy() if isinstance(matrix, Tensor) else np.asarray(matrix)
    if m.shape != (3, 3):
        raise ValueError(f"`matrix` must have shape (3, 3). Received shape: {m.shape}")
    ox, oy = float(x) / 2 - 0.5, float(y) / 2 - 0.5
    offset = np.array([[1.0, 0.0, ox], [0.0, 1.0, oy], [0.0, 0.0, 1.0]])
    reset = np.array([[1.0, 0.0, -ox], [0.0, 1.0, -oy], [0.0, 0.0, 1.0]])
    out = np.dot(np.dot(offset, m), reset)
    return torch.from_numpy(out).to(matrix.device) if isinstance(matrix, Tensor) else out

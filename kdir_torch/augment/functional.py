"""Pure batched augmentation kernels with Keras's ``apply_transform`` semantics (keras-semantics §A11).

Every kernel takes ``(B, C, H, W)`` floating tensors (``(C, H, W)`` is the ``B = 1`` case and
comes back as rank 3) and ``(B,)`` parameter tensors, runs the same tensor code on any
device, never modifies its input and returns a new tensor of the input's dtype.

Geometry (:func:`affine_matrices`), two conventions:

* ``keras_quirks=True`` reproduces Keras 3's pixels: the §A11.1 matrix, centred on
  ``(h/2 - 0.5, w/2 - 0.5)`` applied to ``(column, row)`` (off-centre for non-square images),
  then the axis swap, so ``tx > 0`` moves content left and ``ty > 0`` moves it up.
* ``keras_quirks=False`` (default) follows Keras's documentation: ``tx`` (drawn from
  ``height_shift_range``) moves content along rows, ``ty`` (``width_shift_range``) along
  columns, and rotation, shear and zoom are centred on the true centre ``((h-1)/2, (w-1)/2)``.
  Sign convention, identical to Keras on square images: positive ``theta`` rotates the
  content counter-clockwise as displayed; positive ``tx`` moves content up (towards row 0)
  and positive ``ty`` moves it left (towards column 0); ``zx``/``zy`` scale the horizontal /
  vertical axis (``< 1`` zooms in); shear reads column ``c - sin(shear) * r``, row
  ``cos(shear) * r``; as in Keras the translation is applied in the rotated frame
  (``M = R . T . S . Z``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from kdir_torch.augment import _bilinear, _geometry, _native, _sampling
from kdir_torch.augment._draws import FILL_MODES
from kdir_torch.augment.params import AugmentParams

__all__ = ["affine_matrices", "affine_transform", "apply", "brightness", "channel_shift", "flip"]


def _as_batch(x: Tensor) -> tuple[Tensor, bool]:
    if not isinstance(x, Tensor):
        raise TypeError(f"`x` must be a torch.Tensor. Received: {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"`x` must be a floating point tensor. Received dtype={x.dtype}")
    if x.dim() not in (3, 4):
        raise ValueError(f"`x` must be (B, C, H, W) or (C, H, W). Received shape: {tuple(x.shape)}")
    return (x.unsqueeze(0), True) if x.dim() == 3 else (x, False)


def _per_sample(name: str, t: Tensor, b: int, device: torch.device) -> Tensor:
    if t.shape != (b,):
        raise ValueError(f"`{name}` must have shape ({b},). Received shape: {tuple(t.shape)}")
    return t.to(device)


def _fresh(out: Tensor, x: Tensor, squeeze: bool) -> Tensor:
    out = out.clone() if out is x else out
    return out[0] if squeeze else out


def _host_matrices(params: AugmentParams, h: int, w: int, keras_quirks: bool) -> np.ndarray:
    """:func:`affine_matrices` as a host ``(B, 3, 3)`` float64 array."""
    p = params.to("cpu")
    fields = (p.theta, p.tx, p.ty, p.shear, p.zx, p.zy)
    return _geometry.keras_matrices(*(t.numpy() for t in fields), h=h, w=w, keras_quirks=keras_quirks)


def affine_matrices(params: AugmentParams, h: int, w: int, keras_quirks: bool = False) -> Tensor:
    """Per-sample matrices mapping output ``(row, col, 1)`` to the input position read.

    Built like Keras (§A11.1): ``M = R . T . S . Z`` in the ``(x=column, y=row)`` frame,
    centred, then rows/columns swapped to ``(row, col)``. The products are numpy ``matmul``
    (the same BLAS call as Keras's ``np.dot``), so quirk matrices equal Keras's bit for bit.
    The documented geometry uses exact sines/cosines at multiples of 90 degrees.

    Args:
        params: B samples. h: image height. w: image width.
        keras_quirks: Keras 3's actual geometry (module docstring) instead of the documented one.

    Returns:
        ``(B, 3, 3)`` float64 on ``params``' device.
    """
    return torch.from_numpy(_host_matrices(params, h, w, keras_quirks)).to(params.theta.device)


def _affine(x: Tensor, matrices: Tensor | np.ndarray, order: int, fill_mode: str,
            cval: float, hflip: np.ndarray | None = None,
            vflip: np.ndarray | None = None) -> Tensor:
    """Affine resampling of a (B, C, H, W) batch, then the given flips; returns ``x`` itself
    when nothing moves.

    The compiled kernel (``_native``, scipy's pixels exactly) serves CPU tensors when it is
    built, flipping as it stores; the torch kernels serve the rest, with the flips folded into
    the matrices where that is exact (``_geometry.fold_flips``) and applied after the others.
    The matrices' identity / integrality tests run on
    a host float64 copy (``matrices`` may already be one), so a batch costs one small transfer
    and no tiny device kernels.
    """
    b, c, h, w = x.shape
    if order not in (0, 1):
        raise ValueError(f"`order` must be 0 or 1 (nearest or bilinear). Received: order={order!r}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"`fill_mode` must be one of {FILL_MODES}. Received: fill_mode={fill_mode!r}")
    if tuple(matrices.shape) != (b, 3, 3):
        raise ValueError(f"`matrices` must have shape ({b}, 3, 3). Received shape: {tuple(matrices.shape)}")
    if isinstance(matrices, Tensor):
        matrices = matrices.detach().to("cpu", torch.float64).numpy()
    m_host = np.ascontiguousarray(matrices, dtype=np.float64)
    ident = (m_host == np.eye(3)).all(axis=(1, 2))
    flips = [f for f in (hflip, vflip) if f is not None]
    if any(f.any() for f in flips):
        ident = ident & ~np.logical_or.reduce(flips)
    if x.numel() == 0 or ident.all():
        return x
    work = x.to(torch.float64 if x.dtype == torch.float64 else torch.float32)
    if _native.usable(work):
        out = _native.warp(work, m_host, order, fill_mode, cval, hflip, vflip).to(x.dtype)
    else:
        hf, vf = (np.zeros(b, bool) if f is None else f for f in (hflip, vflip))
        if order == 1 and fill_mode in ("nearest", "reflect"):
            m_host, hf, vf = _geometry.fold_flips(m_host, hf, vf, h, w)
        out = _torch_affine(work, m_host, order, fill_mode, cval).to(x.dtype)
        if hf.any() or vf.any():
            out = _flip(out, torch.from_numpy(hf), torch.from_numpy(vf))
    if ident.any():
        out = torch.where(torch.from_numpy(ident).to(x.device)[:, None, None, None], x, out)
    return out


def _torch_affine(work: Tensor, m_host: np.ndarray, order: int, fill_mode: str,
                  cval: float) -> Tensor:
    """The torch kernels: any device; scipy's pixels up to float rounding (§A11.3)."""
    m = torch.from_numpy(m_host).to(work.device)
    if order == 0 or not work.is_contiguous(memory_format=torch.channels_last):
        work = work.contiguous()  # grid_sample reads a channels_last batch as is (and faster)
    if order == 0:
        return _sampling.sample_nearest(work, m, fill_mode, float(cval))
    return _bilinear.sample_bilinear(work, m, fill_mode, float(cval), m_host=m_host)


def affine_transform(
    x: Tensor, matrices: Tensor, order: int = 1, fill_mode: str = "nearest", cval: float = 0.0
) -> Tensor:
    """Resample every image at ``matrices @ (row, col, 1)`` (scipy ``affine_transform`` semantics).

    Args:
        x: ``(B, C, H, W)`` or ``(C, H, W)`` floating tensor.
        matrices: ``(B, 3, 3)`` (any float dtype/device), output ``(row, col, 1)`` -> input.
        order: 0 (nearest, scipy's ``floor(x + 0.5)``) or 1 (bilinear).
        fill_mode: ``constant``, ``nearest``, ``reflect`` or ``wrap`` (scipy's meanings, §A11.3).
        cval: value outside the image for ``constant``.

    Returns:
        New tensor shaped and typed like ``x``; samples whose matrix is exactly the identity
        are bit-identical copies.

    Raises:
        TypeError: if ``x`` is not a floating tensor.
        ValueError: for a bad shape, ``order`` or ``fill_mode``.
    """
    x4, squeeze = _as_batch(x)
    return _fresh(_affine(x4, torch.as_tensor(matrices), order, fill_mode, cval), x4, squeeze)


def _flip(x: Tensor, horizontal: Tensor, vertical: Tensor) -> Tensor:
    b = x.shape[0]
    out = x
    for mask, dim in ((horizontal, -1), (vertical, -2)):
        mask = _per_sample("flip mask", mask, b, x.device).to(torch.bool)
        if bool(mask.any()):
            out = torch.where(mask[:, None, None, None], out.flip(dim), out)
    return out


def flip(x: Tensor, horizontal_mask: Tensor, vertical_mask: Tensor) -> Tensor:
    """Reverse columns where ``horizontal_mask`` and rows where ``vertical_mask`` (§A11 steps 3-4).

    Args:
        x: ``(B, C, H, W)`` or ``(C, H, W)`` floating tensor.
        horizontal_mask: ``(B,)`` bool. vertical_mask: ``(B,)`` bool.

    Returns:
        New tensor shaped and typed like ``x``.
    """
    x4, squeeze = _as_batch(x)
    return _fresh(_flip(x4, horizontal_mask, vertical_mask), x4, squeeze)


def _amin_amax(x: Tensor) -> tuple[Tensor, Tensor]:
    flat = x.reshape(x.shape[0], -1)
    return flat.amin(dim=1)[:, None, None, None], flat.amax(dim=1)[:, None, None, None]


def _channel_shift(x: Tensor, intensity: Tensor | None) -> Tensor:
    if intensity is None or x.numel() == 0:
        return x
    s = _per_sample("channel_shift_intensity", intensity, x.shape[0], x.device)
    skip = torch.isnan(s)[:, None, None, None]
    lo, hi = _amin_amax(x)
    shifted = torch.minimum(torch.maximum(x + s.to(x.dtype)[:, None, None, None], lo), hi)
    return torch.where(skip, x, shifted)


def channel_shift(x: Tensor, intensity: Tensor | None) -> Tensor:
    """Add ``intensity`` to every channel, clipped to the image's global min/max (§A11.4).

    Args:
        x: ``(B, C, H, W)`` or ``(C, H, W)`` floating tensor.
        intensity: ``(B,)``; ``NaN`` leaves that sample unchanged; None changes nothing.

    Returns:
        New tensor shaped and typed like ``x``.
    """
    x4, squeeze = _as_batch(x)
    return _fresh(_channel_shift(x4, intensity), x4, squeeze)


def _to_uint8_levels(x: Tensor, local: Tensor) -> Tensor:
    """Keras's ``array_to_img(x, scale=local)`` then uint8 truncation, as float32 levels."""
    xf = x.to(torch.float32)
    mn, _ = _amin_amax(xf)
    shifted = xf - mn
    _, mx = _amin_amax(shifted)
    scaled = torch.where(mx != 0, shifted / mx, shifted) * 255
    return torch.where(local, scaled, xf).trunc()


def _brightness(x: Tensor, factor: Tensor | None) -> Tensor:
    if factor is None or x.numel() == 0:
        return x
    f = _per_sample("brightness", factor, x.shape[0], x.device)
    lo, hi = _amin_amax(x)
    local = (lo < 0) | (hi > 255)
    q = _to_uint8_levels(x, local)
    y = (q * f.to(torch.float32)[:, None, None, None]).trunc().clamp(0, 255)  # PIL: trunc(v * b)
    if x.shape[1] == 4:  # RGBA: PIL keeps the alpha band
        alpha = torch.arange(4, device=x.device)[None, :, None, None] == 3
        y = torch.where(alpha, q, y)
    two55 = torch.tensor(255.0, dtype=torch.float32, device=x.device)
    back = (y / two55).to(x.dtype) * (hi - lo) + lo
    out = torch.where(local, back, y.to(x.dtype))
    return torch.where(torch.isnan(f)[:, None, None, None], x, out)


def brightness(x: Tensor, factor: Tensor | None) -> Tensor:
    """Keras's brightness shift as called by ``apply_transform`` (§A11.5, L-new).

    Per image: values are quantised like ``array_to_img`` (min-max scaled to 0..255 first only
    when the image leaves [0, 255]) with uint8 truncation, each colour level becomes PIL's
    ``trunc(v * factor)`` clipped to [0, 255] (a 4th channel is alpha and is kept), and scaled
    images are mapped back with ``v / 255 * (max - min) + min``. Arithmetic in float32 as Keras.

    Args:
        x: ``(B, C, H, W)`` or ``(C, H, W)`` floating tensor.
        factor: ``(B,)``; ``NaN`` leaves that sample unchanged; None changes nothing.

    Returns:
        New tensor shaped and typed like ``x``.
    """
    x4, squeeze = _as_batch(x)
    return _fresh(_brightness(x4, factor), x4, squeeze)


def apply(
    x: Tensor,
    params: AugmentParams,
    *,
    order: int = 1,
    fill_mode: str = "nearest",
    cval: float = 0.0,
    keras_quirks: bool = False,
) -> Tensor:
    """Keras's ``apply_transform`` on a batch, in Keras's order (§A11).

    Affine resampling, channel shift, horizontal flip, vertical flip, brightness.

    Args:
        x: ``(B, C, H, W)`` or ``(C, H, W)`` floating tensor, any device.
        params: ``B`` samples (moved to x's device as needed).
        order: interpolation order, 0 or 1. fill_mode: §A11.3 mode. cval: constant fill.
        keras_quirks: Keras 3's geometry instead of the documented one (module docstring).

    Returns:
        New tensor shaped and typed like ``x``; identity samples are bit-identical copies.

    Raises:
        TypeError: if ``x`` is not a floating tensor or ``params`` not AugmentParams.
        ValueError: if ``len(params)`` differs from the batch size, or for bad options.
    """
    x4, squeeze = _as_batch(x)
    if not isinstance(params, AugmentParams):
        raise TypeError(f"`params` must be AugmentParams. Received: {type(params).__name__}")
    if len(params) != x4.shape[0]:
        raise ValueError(f"`params` has {len(params)} samples but `x` has {x4.shape[0]}.")
    h, w = x4.shape[-2:]
    m = _host_matrices(params, h, w, keras_quirks)
    hflip, vflip = (t.cpu().numpy() for t in (params.flip_horizontal, params.flip_vertical))
    # Keras flips after the channel shift; the shift (global min/max, elementwise) commutes
    # with them (§A11.4), so they ride on the resampling
    out = _affine(x4, m, order, fill_mode, cval, hflip, vflip)
    p = params.to(x4.device)
    out = _channel_shift(out, p.channel_shift_intensity)
    out = _brightness(out, p.brightness)
    return _fresh(out, x4, squeeze)

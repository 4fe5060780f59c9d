"""Keras's module-level augmentation functions (``keras.src.legacy.preprocessing.image``).

Same names, arguments, defaults and axis conventions as Keras 3 (keras-semantics §A10-§A11):
``random_rotation``, ``random_shift``, ``random_shear``, ``random_zoom``,
``random_channel_shift``, ``random_brightness``, and the deterministic functions of
:mod:`kdir_torch.keras.transforms_apply` (``apply_affine_transform``, ``apply_channel_shift``,
``apply_brightness_shift``, ``flip_axis``, ``transform_matrix_offset_center``), re-exported
here. Numpy in -> numpy out; tensors in -> tensors out.

Randomness is ours (DESIGN.md): Keras draws from numpy's global RNG, which is never read or
written here. Each ``random_*`` function takes a keyword-only ``seed`` (None: a seed drawn
from torch's default generator) and draws its uniforms
``u_k = kdir_torch._rng.uniforms(seed, DRAW_TAGS[name], k, 0)``, then uses Keras's formula
``low + (high - low) * u`` and calls the deterministic function exactly as Keras does, so the
output is that function's output for the drawn values:

* rotation: ``theta = uniform(-rg, rg)`` (u_0);
* shift: ``tx = uniform(-hrg, hrg) * h`` (u_0), ``ty = uniform(-wrg, wrg) * w`` (u_1), with
  ``h, w = x.shape[row_axis], x.shape[col_axis]`` (Keras's pairing: ``tx`` from the height);
* shear: ``shear = uniform(-intensity, intensity)`` (u_0);
* zoom: ``zx = uniform(*zoom_range)`` (u_0), ``zy`` (u_1); none when the range is (1, 1);
* channel shift: ``uniform(-intensity_range, intensity_range)`` (u_0);
* brightness: ``uniform(*brightness_range)`` (u_0).

``interpolation_order`` is 0 or 1 only (a ValueError otherwise), as in the rest of the library.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from torch import Tensor

from kdir_torch._rng import resolve_seed, uniforms
from kdir_torch.keras.transforms_apply import (
    apply_affine_transform,
    apply_brightness_shift,
    apply_channel_shift,
    check_order,
    flip_axis,
    scalar,
    transform_matrix_offset_center,
)

__all__ = [
    "apply_affine_transform",
    "apply_brightness_shift",
    "apply_channel_shift",
    "flip_axis",
    "random_brightness",
    "random_channel_shift",
    "random_rotation",
    "random_shear",
    "random_shift",
    "random_zoom",
    "transform_matrix_offset_center",
]

DRAW_TAGS = {"rotation": 0x7A01, "shift": 0x7A02, "shear": 0x7A03, "zoom": 0x7A04,
             "channel_shift": 0x7A05, "brightness": 0x7A06}


def _uniform(seed: int | None, name: str, low: Any, high: Any, n: int = 1) -> np.ndarray:
    """``n`` draws of Keras's ``uniform(low, high)`` (bounds may be per draw) from our RNG."""
    u = uniforms(resolve_seed(seed), DRAW_TAGS[name], np.arange(n), 0)
    low, high = np.asarray(low, np.float64), np.asarray(high, np.float64)
    return low + (high - low) * u


def _pair(name: str, value: Any, message: str) -> tuple[float, float]:
    """A length-2 range with Keras's ValueError (TypeError for a value without a length)."""
    if not hasattr(value, "__len__"):
        raise TypeError(message)
    if len(value) != 2:
        raise ValueError(message)
    return scalar(name, value[0]), scalar(name, value[1])


def random_rotation(
    x: Any, rg: float, row_axis: int = 1, col_axis: int = 2, channel_axis: int = 0,
    fill_mode: str = "nearest", cval: float = 0.0, interpolation_order: int = 1,
    *, seed: int | None = None,
) -> np.ndarray | Tensor:
    """Rotate by ``theta ~ uniform(-rg, rg)`` degrees (Keras's ``random_rotation``).

    Args:
        x: rank-3 image; axes, ``fill_mode``, ``cval`` as :func:`apply_affine_transform`.
        rg: rotation range in degrees.
        interpolation_order: 0 or 1.
        seed: seed of the draw (None: fresh).

    Returns:
        ``apply_affine_transform(x, theta=theta, ...)``.
    """
    check_order("interpolation_order", interpolation_order)
    rg = scalar("rg", rg)
    theta = float(_uniform(seed, "rotation", -rg, rg)[0])
    return apply_affine_transform(x, theta=theta, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_shift(
    x: Any, wrg: float, hrg: float, row_axis: int = 1, col_axis: int = 2, channel_axis: int = 0,
    fill_mode: str = "nearest", cval: float = 0.0, interpolation_order: int = 1,
    *, seed: int | None = None,
) -> np.ndarray | Tensor:
    """Shift by fractions of the size (Keras's ``random_shift``, Keras's ``tx``/``ty`` pairing).

    Args:
        x: rank-3 image; axes, ``fill_mode``, ``cval`` as :func:`apply_affine_transform`.
        wrg: width shift range (fraction), scales ``ty``. hrg: height shift range, scales ``tx``.
        interpolation_order: 0 or 1.
        seed: seed of the draws (None: fresh).

    Returns:
        ``apply_affine_transform(x, tx=tx, ty=ty, ...)``.
    """
    check_order("interpolation_order", interpolation_order)
    shape = x.shape if hasattr(x, "shape") else np.shape(x)
    h, w = int(shape[row_axis]), int(shape[col_axis])
    wrg, hrg = scalar("wrg", wrg), scalar("hrg", hrg)
    draws = _uniform(seed, "shift", [-hrg, -wrg], [hrg, wrg], 2)
    tx, ty = float(draws[0]) * h, float(draws[1]) * w
    return apply_affine_transform(x, tx=tx, ty=ty, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_shear(
    x: Any, intensity: float, row_axis: int = 1, col_axis: int = 2, channel_axis: int = 0,
    fill_mode: str = "nearest", cval: float = 0.0, interpolation_order: int = 1,
    *, seed: int | None = None,
) -> np.ndarray | Tensor:
    """Shear by ``uniform(-intensity, intensity)`` degrees (Keras's ``random_shear``).

    Returns:
        ``apply_affine_transform(x, shear=shear, ...)``; arguments as :func:`random_rotation`.
    """
    check_order("interpolation_order", interpolation_order)
    intensity = scalar("intensity", intensity)
    shear = float(_uniform(seed, "shear", -intensity, intensity)[0])
    return apply_affine_transform(x, shear=shear, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_zoom(
    x: Any, zoom_range: Sequence[float], row_axis: int = 1, col_axis: int = 2,
    channel_axis: int = 0, fill_mode: str = "nearest", cval: float = 0.0,
    interpolation_order: int = 1, *, seed: int | None = None,
) -> np.ndarray | Tensor:
    """Zoom by independent ``zx, zy ~ uniform(*zoom_range)`` (Keras's ``random_zoom``).

    Args:
        zoom_range: ``(low, high)``; ``(1, 1)`` draws nothing and leaves ``x`` unchanged.
        others: as :func:`random_rotation`.

    Returns:
        ``apply_affine_transform(x, zx=zx, zy=zy, ...)``.

    Raises:
        ValueError: Keras's ``zoom_range`` text for a range not of length 2.
    """
    low, high = _pair("zoom_range", zoom_range, "`zoom_range` should be a tuple or list of two "
                      f"floats. Received: {zoom_range}")
    check_order("interpolation_order", interpolation_order)
    zx, zy = (1.0, 1.0) if low == 1 and high == 1 else map(float, _uniform(seed, "zoom", low, high, 2))
    return apply_affine_transform(x, zx=zx, zy=zy, row_axis=row_axis, col_axis=col_axis,
                                  channel_axis=channel_axis, fill_mode=fill_mode, cval=cval,
                                  order=interpolation_order)


def random_channel_shift(
    x: Any, intensity_range: float, channel_axis: int = 0, *, seed: int | None = None
) -> np.ndarray | Tensor:
    """Channel shift by ``uniform(-intensity_range, intensity_range)`` (Keras's ``random_channel_shift``).

    Returns:
        ``apply_channel_shift(x, intensity, channel_axis)``.
    """
    r = scalar("intensity_range", intensity_range)
    intensity = float(_uniform(seed, "channel_shift", -r, r)[0])
    return apply_channel_shift(x, intensity, channel_axis=channel_axis)


def random_brightness(
    x: Any, brightness_range: Sequence[float], scale: bool = True, *,
    seed: int | None = None, data_format: str | None = None,
) -> np.ndarray | Tensor:
    """Brightness shift by ``uniform(*brightness_range)`` (Keras's ``random_brightness``).

    Args:
        brightness_range: ``(low, high)`` factors.
        scale: as :func:`apply_brightness_shift`.
        seed: seed of the draw (None: fresh). data_format: as :func:`apply_brightness_shift`.

    Returns:
        ``apply_brightness_shift(x, u, scale)``.

    Raises:
        ValueError: Keras's ``brightness_range`` text for a range not of length 2.
    """
    low, high = _pair("brightness_range", brightness_range, "`brightness_range should be tuple or "
                      f"list of two floats. Received: {brightness_range}")
    u = float(_uniform(seed, "brightness", low, high)[0])
    return apply_brightness_shift(x, u, scale, data_format=data_format)

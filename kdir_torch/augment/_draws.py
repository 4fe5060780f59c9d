"""Argument checks and per-sample random draws for :class:`~kdir_torch.augment.Augment`.

The distributions are Keras's ``get_random_transform`` (keras-semantics §A10); the random numbers
are ours: every draw ``k`` of sample ``i`` is ``kdir_torch._rng.uniforms(seed, epoch, i,
stream=k)``, so a sample's parameters depend only on ``(seed, epoch, index)``. Each draw has
its own fixed stream number, so enabling one augmentation never changes another's values.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from kdir_torch import _rng

# One stream per draw (keras-semantics §A10 order; numbers are fixed, not positional).
STREAM_THETA = 0
STREAM_TX_VALUE, STREAM_TX_SIGN = 1, 2
STREAM_TY_VALUE, STREAM_TY_SIGN = 3, 4
STREAM_SHEAR = 5
STREAM_ZX, STREAM_ZY = 6, 7
STREAM_FLIP_H, STREAM_FLIP_V = 8, 9
STREAM_CHANNEL_SHIFT = 10
STREAM_BRIGHTNESS = 11

FILL_MODES = ("constant", "nearest", "reflect", "wrap")


def _is_real(value: Any) -> bool:
    return isinstance(value, (numbers.Real, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def check_real(name: str, value: Any) -> float:
    """``value`` as a float; TypeError with a Keras-shaped message otherwise."""
    if not _is_real(value):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r}")
    return float(value)


def check_bool(name: str, value: Any) -> bool:
    """``value`` as a bool; TypeError unless it is a bool (numpy bools accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"`{name}` must be a boolean. Received: {name}={value!r}")
    return bool(value)


def check_zoom_range(zoom_range: Any) -> tuple[float, float]:
    """Keras's zoom rule (§A10 step 5): z -> (1 - z, 1 + z); a pair is taken as given.

    Raises:
        TypeError: with Keras's text (§A16) for a value that has no length (Keras fails in
            ``len()`` there), e.g. None.
        ValueError: with Keras's text (§A16) for anything else.
    """
    message = f"`zoom_range` should be a float or a tuple or list of two floats. Received: {zoom_range}"
    if _is_real(zoom_range):
        return (1.0 - float(zoom_range), 1.0 + float(zoom_range))
    if not hasattr(zoom_range, "__len__"):
        raise TypeError(message)
    if isinstance(zoom_range, (list, tuple)) and len(zoom_range) == 2 and all(map(_is_real, zoom_range)):
        return (float(zoom_range[0]), float(zoom_range[1]))
    raise ValueError(message)


def check_brightness_range(brightness_range: Any) -> tuple[float, float] | None:
    """None, or a pair of numbers; ValueError with Keras's text (§A16) otherwise."""
    if brightness_range is None:
        return None
    if (
        not isinstance(brightness_range, (tuple, list))
        or len(brightness_range) != 2
        or not all(map(_is_real, brightness_range))
    ):
        raise ValueError(
            f"`brightness_range should be tuple or list of two floats. Received: {brightness_range}"
        )
    return (float(brightness_range[0]), float(brightness_range[1]))


@dataclass(frozen=True)
class ShiftSpec:
    """A validated ``width_shift_range`` / ``height_shift_range`` (keras-semantics §A10 step 2).

    Attributes:
        choices: values to pick from (int / list ranges), each then given a random sign; or None.
        bound: the ``f`` of ``uniform(-f, f)`` for a float range; or None.
        fraction: True when ``max(range) < 1``: the draw is a fraction of the image size.
    """

    choices: tuple[float, ...] | None = None
    bound: float | None = None
    fraction: bool = False

    @property
    def active(self) -> bool:
        return self.choices is not None or self.bound is not None


def check_shift_range(name: str, value: Any) -> ShiftSpec:
    """Validate a shift range the way Keras interprets it (§A10 step 2).

    An int ``n >= 1`` picks from ``0..n-1``; a list/tuple picks one of its elements; a float
    ``f`` draws ``uniform(-f, f)``. A falsy value (0, 0.0, empty list, None) disables the shift.

    Raises:
        TypeError: for a non-numeric value.
        ValueError: for a negative value.
    """
    if value is None:
        return ShiftSpec()
    if isinstance(value, np.ndarray) and value.ndim == 1:
        value = value.tolist()
    if isinstance(value, (list, tuple)):
        if not all(map(_is_real, value)):
            raise TypeError(f"`{name}` must be a number or a list of numbers. Received: {name}={value!r}")
        values = tuple(float(v) for v in value)
        if any(v < 0 for v in values):
            raise ValueError(f"`{name}` must contain non-negative numbers. Received: {name}={value!r}")
        return ShiftSpec(choices=values, fraction=max(values) < 1) if values else ShiftSpec()
    if not _is_real(value):
        raise TypeError(f"`{name}` must be a number or a list of numbers. Received: {name}={value!r}")
    if value < 0:
        raise ValueError(f"`{name}` must be non-negative. Received: {name}={value!r}")
    if value == 0:
        return ShiftSpec()
    if isinstance(value, (numbers.Integral, np.integer)):
        return ShiftSpec(choices=tuple(float(v) for v in range(int(value))))
    return ShiftSpec(bound=float(value), fraction=float(value) < 1)


class Draws:
    """Per-sample uniforms for one batch: ``u(k)`` is draw ``k`` of every sample."""

    def __init__(self, seed: int, epoch: int, indices: np.ndarray) -> None:
        self.seed, self.epoch, self.indices = seed, epoch, indices
        self._prefix = _rng.hash64(seed, epoch, indices)  # shared by every stream

    def u(self, stream: int) -> np.ndarray:
        """``(B,)`` float64 uniforms in ``[0, 1)`` for ``stream``
        (``_rng.uniforms(seed, epoch, indices, stream)``, the prefix hashed once)."""
        return _rng.to_uniforms(_rng.extend(self._prefix, stream))

    def uniform(self, low: float, high: float, stream: int) -> np.ndarray:
        """numpy's ``uniform(low, high)`` formula: ``low + (high - low) * u``."""
        return low + (high - low) * self.u(stream)

    def symmetric(self, bound: float, stream: int) -> np.ndarray:
        """``uniform(-bound, bound)`` when ``bound`` is truthy, else zeros (Keras's rule)."""
        if not bound:
            return np.zeros(len(self.indices))
        return self.uniform(-bound, bound, stream)

    def shift(self, spec: ShiftSpec, size: int, value_stream: int, sign_stream: int) -> np.ndarray:
        """A shift in pixels per §A10 step 2 (choice then random sign, or uniform; x size)."""
        if not spec.active:
            return np.zeros(len(self.indices))
        if spec.choices is not None:
            n = len(spec.choices)
            pick = np.minimum((self.u(value_stream) * n).astype(np.int64), n - 1)
            sign = np.where(self.u(sign_stream) < 0.5, -1.0, 1.0)
            out = np.asarray(spec.choices, dtype=np.float64)[pick] * sign
        else:
            out = self.uniform(-spec.bound, spec.bound, value_stream)
        return out * size if spec.fraction else out

    def flips(self, enabled: bool, stream: int) -> np.ndarray:
        """Bernoulli(0.5) per sample, all False when the flip is disabled."""
        return (self.u(stream) < 0.5) & enabled


def as_indices(indices: Any) -> np.ndarray:
    """``indices`` as a 1-D int64 numpy array.

    Raises:
        TypeError: for non-integer indices.
        ValueError: for a non-1-D input.
    """
    if isinstance(indices, torch.Tensor):
        indices = indices.detach().cpu().numpy()
    arr = np.asarray(indices)
    if arr.ndim != 1:
        raise ValueError(f"`indices` must be 1-D (B,). Received shape: {arr.shape}")
    if arr.size and arr.dtype.kind not in "iu":
        raise TypeError(f"`indices` must be integers. Received dtype={arr.dtype}")
    return arr.astype(np.int64)


def check_image_hw(image_hw: Sequence[int]) -> tuple[int, int]:
    """``(H, W)`` as two non-negative ints."""
    try:
        h, w = (int(v) for v in image_hw)
    except (TypeError, ValueError):
        raise ValueError(
            f"`image_hw` must be a pair of ints (H, W). Received: image_hw={image_hw!r}"
        ) from None
    if h < 0 or w < 0:
        raise ValueError(f"`image_hw` must be non-negative. Received: image_hw={image_hw!r}")
    return h, w

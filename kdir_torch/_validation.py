"""Argument checks shared by every entry point, with Keras's messages (keras-semantics §A16, §B9)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

CLASS_MODES = ("categorical", "binary", "sparse", "input", None)
COLOR_CHANNELS = {"rgb": 3, "rgba": 4, "grayscale": 1}
DATA_FORMATS = ("channels_first", "channels_last")
ON_ERROR = ("raise", "skip")
_DTYPES = {
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
    "float32": torch.float32,
    "float64": torch.float64,
}


def check_color_mode(color_mode: Any) -> int:
    """Return the channel count of ``color_mode`` (legacy message, §A16)."""
    if color_mode not in COLOR_CHANNELS:
        raise ValueError(
            f'Invalid color mode: {color_mode}; expected "rgb", "rgba", or "grayscale".'
        )
    return COLOR_CHANNELS[color_mode]


def check_class_mode(class_mode: Any) -> None:
    """Legacy ``class_mode`` check (§A2, §A16)."""
    if class_mode not in CLASS_MODES:
        raise ValueError(
            f"Invalid class_mode: {class_mode}; expected one of: {set(CLASS_MODES)}"
        )


def check_data_format(data_format: Any) -> str:
    """Return ``data_format`` or raise Keras's ImageDataGenerator message (§A16)."""
    if data_format not in DATA_FORMATS:
        raise ValueError(
            '`data_format` should be `"channels_last"` (channel after row and column) or '
            '`"channels_first"` (channel before row and column). '
            f"Received: {data_format}"
        )
    return data_format


def check_legacy_split(validation_split: Any) -> None:
    """Legacy ``validation_split`` check: falsy or strictly inside (0, 1) (§A5, §A16)."""
    if validation_split is not None and not isinstance(validation_split, (int, float)):
        raise TypeError(
            "`validation_split` must be a float. "
            f"Received: validation_split={validation_split!r}"
        )
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(
            "`validation_split` must be strictly between 0 and 1. "
            f" Received: {validation_split}"
        )


def legacy_split_range(validation_split: Any, subset: Any) -> tuple[float, float] | None:
    """The ``(start, stop)`` fractions Keras slices each class with, or None (§A5)."""
    if subset is None:
        return None
    if subset not in ("training", "validation"):
        raise ValueError(
            f'Invalid subset name: {subset};expected "training" or "validation"'
        )
    if validation_split is None:
        raise TypeError(
            "`validation_split` must be a number when `subset` is set "
            "(Keras fails here with a TypeError too). Received: validation_split=None"
        )
    return (0.0, validation_split) if subset == "validation" else (validation_split, 1.0)


def check_target_size(target_size: Any) -> tuple[int, int] | None:
    """``target_size`` as a ``(height, width)`` tuple of positive ints, or None (keep size)."""
    if target_size is None:
        return None
    if not isinstance(target_size, Sequence) or len(target_size) != 2 or not all(
        isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in target_size
    ):
        raise ValueError(
            "`target_size` must be None or a tuple of 2 positive integers (height, width). "
            f"Received: target_size={target_size!r}"
        )
    return (int(target_size[0]), int(target_size[1]))


def check_dtype(dtype: Any) -> torch.dtype:
    """A floating ``torch.dtype`` from a torch dtype or a Keras dtype string."""
    if dtype is None:
        return torch.float32
    if isinstance(dtype, str) and dtype in _DTYPES:
        return _DTYPES[dtype]
    if isinstance(dtype, torch.dtype) and dtype.is_floating_point:
        return dtype
    raise ValueError(
        "`dtype` must be a floating torch dtype or one of "
        f"{sorted(_DTYPES)}. Received: dtype={dtype!r}"
    )


def check_on_error(on_error: Any) -> str:
    """``on_error`` policy: "raise" or "skip"."""
    if on_error not in ON_ERROR:
        raise ValueError(f"`on_error` must be one of {ON_ERROR}. Received: on_error={on_error!r}")
    return on_error


def check_bool(name: str, value: Any, allow_none: bool = False) -> bool | None:
    """Reject non-bool flags (and None unless ``allow_none``) with a TypeError."""
    if value is None and allow_none:
        return None
    if not isinstance(value, bool):
        kind = "a bool or None" if allow_none else "a bool"
        raise TypeError(f"`{name}` must be {kind}. Received: {name}={value!r}")
    return value


def check_callable(name: str, value: Any) -> Any:
    """``value`` if it is None or callable, else a TypeError naming ``name``."""
    if value is not None and not callable(value):
        raise TypeError(f"`{name}` must be None or a callable. Received: {name}={value!r}")
    return value

"""Small helpers of the ``ImageDataGenerator`` facade: Keras's argument checks, attribute
properties and numpy/tensor round-tripping (keras-semantics §A10, §A16)."""

from __future__ import annotations

import numbers
from typing import Any

import torch

AUGMENT_ARGS = (
    "rotation_range", "width_shift_range", "height_shift_range", "brightness_range",
    "shear_range", "zoom_range", "channel_shift_range", "fill_mode", "cval",
    "horizontal_flip", "vertical_flip", "interpolation_order",
)
STANDARDIZE_ATTRS = (
    "featurewise_center", "samplewise_center", "featurewise_std_normalization",
    "samplewise_std_normalization", "zca_whitening", "zca_epsilon", "rescale",
    "preprocessing_function", "mean", "std", "zca_whitening_matrix",
)


def read_only_property(name: str, store: str) -> property:
    """A property reading ``getattr(self, store)[name]``; assigning it raises AttributeError.

    Args:
        name: key in the config dict.
        store: attribute name of the config dict on the instance.

    Returns:
        The property object.
    """

    def get(self: Any) -> Any:
        return getattr(self, store)[name]

    return property(get, doc=f"``{name}`` as given (read-only: the augmenter is built once).")


def delegated_property(name: str, target: str) -> property:
    """A read/write property forwarding ``name`` to ``getattr(self, target)``.

    Args:
        name: attribute of the target object.
        target: attribute name of the target object on the instance.

    Returns:
        The property object.
    """

    def get(self: Any) -> Any:
        return getattr(getattr(self, target), name)

    def set_(self: Any, value: Any) -> None:
        setattr(getattr(self, target), name, value)

    return property(get, set_, doc=f"``{name}`` of the standardizer (read/write, as in Keras).")


def image_hw(img_shape: Any, row_axis: int, col_axis: int) -> tuple[int, int]:
    """``(height, width)`` of a single-image shape, Keras's ``row_axis - 1``/``col_axis - 1``.

    Args:
        img_shape: shape of one image (3 positive ints).
        row_axis: the generator's batch row axis (1 or 2).
        col_axis: the generator's batch column axis (2 or 3).

    Returns:
        ``(height, width)``.

    Raises:
        ValueError: ``img_shape`` is not 3 positive ints.
    """
    shape = tuple(img_shape)
    if len(shape) != 3 or not all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) and v > 0 for v in shape
    ):
        raise ValueError(
            "`img_shape` must be the shape of a single image (3 positive integers). "
            f"Received: img_shape={img_shape!r}"
        )
    return int(shape[row_axis - 1]), int(shape[col_axis - 1])


def same_kind(out: torch.Tensor, like: Any) -> Any:
    """``out`` as a numpy array when ``like`` is not a tensor, else as a contiguous tensor.

    Args:
        out: result tensor.
        like: the caller's input.

    Returns:
        ``np.ndarray`` (on the host) or ``torch.Tensor``.
    """
    out = out.contiguous()
    return out if isinstance(like, torch.Tensor) else out.detach().cpu().numpy()

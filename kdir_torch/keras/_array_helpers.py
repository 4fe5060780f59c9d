"""Helpers of Keras's module-level image utilities: ``data_format`` checks with Keras's text,
numpy/tensor round-tripping and dtype handling (keras-semantics Part C, §A16)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from kdir_torch._validation import DATA_FORMATS


def standardize_data_format(data_format: Any) -> str:
    """Keras's ``backend.standardize_data_format``: None -> "channels_last", lower-cased.

    None stands for Keras's default global config (``image_data_format()`` is
    "channels_last"); we never read Keras's config.

    Raises:
        ValueError: Keras's text for anything else.
    """
    if data_format is None:
        return "channels_last"
    value = str(data_format).lower()
    if value not in DATA_FORMATS:
        raise ValueError(
            "The `data_format` argument must be one of {'channels_first', 'channels_last'}. "
            f"Received: data_format={value}"
        )
    return value


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a numpy array: tensors are detached and copied to the host (bfloat16 as float32)."""
    if isinstance(x, Tensor):
        t = x.detach().cpu()
        return (t.float() if t.dtype == torch.bfloat16 else t).numpy()
    return np.asarray(x)


def as_tensor_view(x: Any) -> tuple[Tensor, bool]:
    """``x`` as a tensor (numpy memory shared when possible) and whether ``x`` was not a tensor.

    Raises:
        TypeError: the array's dtype has no torch equivalent (strings, objects).
    """
    if isinstance(x, Tensor):
        return x, False
    arr = np.asarray(x)
    if not arr.dtype.isnative:
        arr = arr.astype(arr.dtype.newbyteorder("="))
    if arr.dtype.kind not in "biufc":
        raise TypeError(f"`x` must be a numeric array. Received dtype={arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr)), True


def back_to_kind(t: Tensor, numpy: bool) -> Any:
    """``t`` as a writable host numpy array when ``numpy``, else as a tensor."""
    return t.detach().cpu().numpy() if numpy else t


def split_dtype(dtype: Any) -> tuple[np.dtype, torch.dtype | None]:
    """The numpy dtype to build an array in, and a torch dtype to convert the tensor to after.

    ``None`` is Keras's ``floatx()``, float32. A ``torch.dtype`` with a numpy twin is built
    directly; one without (bfloat16) is built in float32 and converted once it is a tensor.

    Raises:
        TypeError: ``dtype`` is neither numpy-compatible nor a torch dtype.
    """
    if dtype is None:
        return np.dtype("float32"), None
    if isinstance(dtype, torch.dtype):
        try:
            return torch.empty((), dtype=dtype).numpy().dtype, None
        except TypeError:
            return np.dtype("float32"), dtype
    return np.dtype(dtype), None


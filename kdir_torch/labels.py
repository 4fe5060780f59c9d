"""Label encoders: the keras-semantics §A9 (legacy ``class_mode``) and §B6 (``label_mode``) tables.

Also the one place where the PyTorch habit ``label_dtype=`` (e.g. ``torch.long`` for
``CrossEntropyLoss`` class indices) is checked and applied.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

_LABEL_DTYPES = {
    name: getattr(torch, name)
    for name in ("float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32",
                 "int64", "bool")
}


def check_label_dtype(label_dtype: Any, mode: str | None, mode_name: str) -> torch.dtype | None:
    """``label_dtype`` as a real or integer ``torch.dtype``, or None (Keras's label dtype).

    Args:
        label_dtype: None, a ``torch.dtype`` or its name (``"int64"``; ``"long"`` too).
        mode: the dataset's ``class_mode`` / ``label_mode``.
        mode_name: "class_mode" or "label_mode", for the message.

    Raises:
        TypeError: not a dtype, or a complex one.
        ValueError: given with ``class_mode="input"`` (the label is the image itself).
    """
    if label_dtype is None:
        return None
    if isinstance(label_dtype, str):
        label_dtype = {"long": torch.int64, "int": torch.int32, "float": torch.float32,
                       "double": torch.float64}.get(label_dtype, _LABEL_DTYPES.get(label_dtype))
    if not isinstance(label_dtype, torch.dtype) or label_dtype.is_complex:
        raise TypeError("`label_dtype` must be None, a real or integer torch.dtype (e.g. "
                        f"torch.long) or its name. Received: label_dtype={label_dtype!r}")
    if mode == "input":
        raise ValueError(f"`label_dtype` does not apply to {mode_name}='input' (the label is "
                         f"the image batch itself). Received: label_dtype={label_dtype}")
    return label_dtype


def encode_class_mode(
    class_index: torch.Tensor, class_mode: str | None, num_classes: int,
    dtype: torch.dtype, x: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """Legacy labels for a batch (§A9).

    Args:
        class_index: ``(B,)`` integer class indices.
        class_mode: "categorical", "binary", "sparse", "input" or None.
        num_classes: width of the one-hot rows (``len(class_indices)``).
        dtype: the label dtype: Keras's is the generator/dataset float dtype; a dataset's
            ``label_dtype`` (e.g. ``torch.long``) replaces it.
        x: the finished image batch (needed for "input").

    Returns:
        categorical: ``(B, num_classes)`` one-hot ``dtype``; binary/sparse: ``(B,)`` class index
        as ``dtype``; input: an independent copy of ``x``; None: None.
    """
    if class_mode == "categorical":
        if class_index.numel() == 0 or num_classes == 0:  # one_hot cannot infer a width
            return torch.zeros((class_index.shape[0], num_classes), dtype=dtype,
                               device=class_index.device)
        return F.one_hot(class_index.long(), num_classes).to(dtype)
    if class_mode in ("binary", "sparse"):
        return class_index.to(dtype)
    if class_mode == "input":
        if x is None:
            raise ValueError('class_mode="input" needs the image batch `x`.')
        return x.clone()
    return None


def encode_multi_hot(row: torch.Tensor, class_index: torch.Tensor, batch: int, num_classes: int,
                     dtype: torch.dtype) -> torch.Tensor:
    """Legacy categorical labels of multi-label rows (``flow_from_dataframe``, §A14).

    Args:
        row: ``(L,)`` integer batch position of each label.
        class_index: ``(L,)`` integer class index of each label (same device as ``row``).
        batch: ``B``, the number of rows (a row without labels is all zeros).
        num_classes: width of the rows.
        dtype: the dataset float dtype.

    Returns:
        ``(B, num_classes)`` ``dtype`` multi-hot: 1 at every ``(row[j], class_index[j])``.
    """
    out = torch.zeros((batch, num_classes), dtype=dtype, device=row.device)
    out[row.long(), class_index.long()] = 1
    return out


def encode_label_mode(labels: torch.Tensor, label_mode: str | None, num_classes: int,
                      dtype: torch.dtype | None = None) -> torch.Tensor | None:
    """Modern labels for a batch (§B6).

    Args:
        labels: ``(B,)`` label values.
        label_mode: "int", "categorical", "binary" or None.
        num_classes: one-hot depth (``len(class_names)``).
        dtype: a dataset's ``label_dtype`` replacing Keras's dtype; None keeps Keras's.

    Returns:
        int: ``(B,)`` int32; categorical: ``(B, K)`` float32 one-hot (values >= K give an
        all-zero row, as ``tf.one_hot``); binary: ``(B, 1)`` float32; None: None. With
        ``dtype`` the same values in ``dtype``.
    """
    out = _keras_label_mode(labels, label_mode, num_classes)
    return out if out is None or dtype is None else out.to(dtype)


def _keras_label_mode(labels: torch.Tensor, label_mode: str | None,
                      num_classes: int) -> torch.Tensor | None:
    if label_mode == "int":
        return labels.to(torch.int32) if not labels.is_floating_point() else labels.float()
    if label_mode == "categorical":
        idx = labels.long()
        valid = (idx >= 0) & (idx < num_classes)
        out = torch.zeros(idx.shape + (num_classes,), dtype=torch.float32, device=labels.device)
        out[valid, idx[valid]] = 1.0
        return out
    if label_mode == "binary":
        return labels.to(torch.float32).unsqueeze(-1)
    return None

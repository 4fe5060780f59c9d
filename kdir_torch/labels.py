"""Label encoders: the KERAS_SPEC §A9 (legacy ``class_mode``) and §B6 (``label_mode``) tables."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def encode_class_mode(
    class_index: torch.Tensor, class_mode: str | None, num_classes: int,
    dtype: torch.dtype, x: torch.Tensor | None = None,
) -> torch.Tensor | None:
    """Legacy labels for a batch (§A9).

    Args:
        class_index: ``(B,)`` integer class indices.
        class_mode: "categorical", "binary", "sparse", "input" or None.
        num_classes: width of the one-hot rows (``len(class_indices)``).
        dtype: the generator/dataset float dtype.
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


def encode_label_mode(labels: torch.Tensor, label_mode: str | None, num_classes: int) -> torch.Tensor | None:
    """Modern labels for a batch (§B6).

    Args:
        labels: ``(B,)`` label values.
        label_mode: "int", "categorical", "binary" or None.
        num_classes: one-hot depth (``len(class_names)``).

    Returns:
        int: ``(B,)`` int32; categorical: ``(B, K)`` float32 one-hot (values >= K give an
        all-zero row, as ``tf.one_hot``); binary: ``(B, 1)`` float32; None: None.
    """
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

"""``ArrayDataset``: in-memory images (numpy or torch) behind the dataset protocol.

The data of Keras's ``NumpyArrayIterator`` (keras-semantics §A15): images ``(N, H, W, C)``
(channels_last) or ``(N, C, H, W)`` (channels_first), optional labels, sample weights and
extra input arrays, all indexed along their first axis. Nothing is copied per sample:
``load_raw(i)`` is a view of row ``i`` and the loader stacks a batch in one copy.

Storage: uint8 images are kept as uint8 (4x less memory than float32; they travel through
the loader's uint8 path and are converted per batch, exactly as Keras's ``np.asarray(x,
dtype)`` converts them); images of the generator's dtype are kept as given; any other dtype
is converted once, as Keras does at construction. Labels, weights and extra inputs are kept
unchanged: numeric and bool arrays become tensors of their own dtype (no copy for numpy
arrays), anything else (strings, objects) stays a numpy array.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .. import _validation as v
from .base import DirDataset, convert

Column = torch.Tensor | np.ndarray


def _numpy(a: Any) -> np.ndarray:
    """``a`` as a numpy array in native byte order (CPU tensors are shared, not copied)."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    arr = np.asarray(a)
    return arr if arr.dtype.isnative else arr.astype(arr.dtype.newbyteorder("="))


def _from_numpy(arr: np.ndarray) -> torch.Tensor:
    if any(step < 0 for step in arr.strides):  # e.g. x[::-1]: torch needs positive strides
        arr = np.ascontiguousarray(arr)
    with warnings.catch_warnings():  # read-only arrays (np.load mmap): we never write to them
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(arr)


def as_images(x: Any, dtype: torch.dtype) -> torch.Tensor:
    """The image array as a CPU tensor: uint8 or ``dtype`` as given, else converted to ``dtype``.

    Args:
        x: numpy array, tensor (any device) or nested sequence.
        dtype: the floating dtype of the batches.

    Returns:
        CPU tensor sharing ``x``'s memory when no conversion is needed.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        return t if t.dtype in (torch.uint8, dtype) else t.to(dtype)
    arr = _numpy(x)
    if arr.dtype.kind not in "biufc":  # e.g. an object array of numbers
        arr = np.asarray(arr, dtype=np.float64)
    t = _from_numpy(arr)
    return t if t.dtype in (torch.uint8, dtype) else t.to(dtype)


def as_column(a: Any) -> Column:
    """Labels / weights / extra inputs kept unchanged: a tensor of their dtype, or numpy."""
    if isinstance(a, torch.Tensor):
        return a.detach().cpu()
    arr = _numpy(a)
    return _from_numpy(arr) if arr.dtype.kind in "biufc" else arr


def take(column: Column, indices: torch.Tensor, device: torch.device) -> Column:
    """``column[indices]`` (a tensor on ``device``, or a numpy array)."""
    if isinstance(column, np.ndarray):
        return column[indices.numpy()]
    return column[indices].to(device)


class ArrayDataset(DirDataset):
    """Images in memory with optional labels, sample weights and extra inputs (§A15).

    ``ds[i]`` returns ``x_i`` (no labels), ``(x_i, y_i)`` or ``(x_i, y_i, w_i)``, where
    ``x_i`` is ``[image, *misc_i]`` when there are extra inputs; batches from
    ``finish_batch`` have the same structure. Images are float ``dtype`` in ``data_format``;
    labels, weights and extra inputs are returned unchanged (``y[J]``).

    Args:
        x: images, rank 4, in ``data_format`` (numpy array or tensor; rank is not checked
            here, see ``NumpyArrayIterator``).
        y: labels ``(N, ...)`` or None.
        sample_weight: ``(N,)`` weights or None (only returned together with labels, as in
            Keras).
        misc: extra input arrays ``(N, ...)``.
        data_format: "channels_first" or "channels_last" (layout of ``x`` and of batches).
        dtype: floating dtype of the images.
        augment: optional ``Augment``-like object (params from ``(seed, epoch, index)``).
        standardize: optional callable applied to the finished image batch.
        seed: augmentation seed; None uses ``augment.seed``.
    """

    on_error = "raise"

    def __init__(
        self, x: Any, y: Any = None, sample_weight: Any = None, misc: Sequence[Any] = (),
        data_format: str = "channels_first", dtype: torch.dtype | str = torch.float32, *,
        augment: Any = None, standardize: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int | None = None,
    ) -> None:
        self.data_format = v.check_data_format(data_format)
        self.dtype = v.check_dtype(dtype)
        self.x = as_images(x, self.dtype)
        self.y = None if y is None else as_column(y)
        self.sample_weight = None if sample_weight is None else as_column(sample_weight)
        self.x_misc = [as_column(m) for m in misc]
        self.image_shape = tuple(int(s) for s in self.x.shape[1:])
        self.augment, self.standardize, self.seed, self.epoch = augment, standardize, seed, 0

    @property
    def raw_dtype(self) -> torch.dtype:
        """dtype of ``load_raw`` outputs (the loader's uint8 ring serves only uint8)."""
        return self.x.dtype

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def load_raw(self, i: int) -> torch.Tensor:
        """Row ``i`` as a ``(C, H, W)`` view (no copy), uint8 or ``dtype``."""
        row = self.x[i]
        return row.permute(2, 0, 1) if self.data_format == "channels_last" else row

    def _to_float(self, raw: torch.Tensor, augmenting: bool,
                  empty: Callable[..., torch.Tensor]) -> torch.Tensor:
        # A stacked batch of ``dtype`` rows is already a fresh tensor: no second copy.
        return raw if raw.dtype == self.dtype else convert(raw, self.dtype, empty)

    def _labels(self, x: torch.Tensor, indices: torch.Tensor) -> None:
        return None  # labels, weights and extra inputs are assembled by ``finish_batch``

    def finish_batch(self, raw: torch.Tensor, indices: torch.Tensor, *, epoch: int | None = None,
                     augment: bool = True, standardize: bool = True,
                     empty: Callable[..., torch.Tensor] = torch.empty) -> Any:
        """Images as ``DirDataset.finish_batch``, then Keras's batch structure (§A15).

        Returns:
            ``x``, ``(x, y)`` or ``(x, y, w)``; ``x`` is the ``(B, ...)`` image batch, or
            ``[images, *misc]`` with extra inputs. Everything is on ``raw``'s device (numpy
            columns stay numpy).
        """
        images = super().finish_batch(raw, indices, epoch=epoch, augment=augment,
                                      standardize=standardize, empty=empty)
        idx = torch.as_tensor(indices).cpu()
        dev = images.device
        first = [images, *(take(m, idx, dev) for m in self.x_misc)] if self.x_misc else images
        if self.y is None:
            return first
        out = (first, take(self.y, idx, dev))
        if self.sample_weight is not None:
            out += (take(self.sample_weight, idx, dev),)
        return out

    def __repr__(self) -> str:
        return (f"ArrayDataset(n={len(self)}, image_shape={self.image_shape}, "
                f"data_format={self.data_format!r}, labels={self.y is not None}, "
                f"sample_weight={self.sample_weight is not None}, misc={len(self.x_misc)})")

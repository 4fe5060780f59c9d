"""Keras's legacy ``NumpyArrayIterator`` (``ImageDataGenerator.flow``) on kdir_torch layers.

Composition only: an ``ArrayDataset`` (the arrays, Keras's batch structure; built without
augmentation) driven by ``LoaderIterator`` (Keras's iterator protocol over ``make_loader``;
its module docstring lists the differences from Keras). Keras's checks, messages and their
order are kept (keras-semantics §A15, §A16). Batches are images ``(B, H, W, C)``/``(B, C, H, W)``
of the generator dtype, augmented and standardized by the generator, with labels, sample
weights and extra inputs returned unchanged: ``x``, ``(x, y)`` or ``(x, y, w)``, where ``x``
is ``[images, *misc]`` when ``x`` was given as ``(images, misc)``.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch

from kdir_torch import _validation as v
from kdir_torch.datasets.arrays import ArrayDataset, as_column, as_images
from kdir_torch.keras.iterator import (
    LoaderIterator,
    check_loader_args,
    forward_attributes,
)

__all__ = ["NumpyArrayIterator"]

_FORWARDED = ("x", "y", "x_misc", "sample_weight", "data_format", "dtype", "image_shape")


def _shape(a: Any) -> tuple[int, ...]:
    """Shape as Keras prints it (``np.asarray(a).shape``), also for tensors on any device."""
    return tuple(int(s) for s in a.shape) if hasattr(a, "shape") else np.asarray(a).shape


def _unique(a: Any) -> np.ndarray:
    return np.unique(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a))


def split_inputs(x: Any, y: Any, sample_weight: Any, validation_split: float,
                 subset: str | None, ignore_class_split: bool) -> tuple[Any, Any, Any, list]:
    """Keras's checks and ``subset`` slicing, in Keras's order (§A15, §A16).

    Returns:
        ``(images, y, sample_weight, misc)`` restricted to ``subset``: validation is the
        first ``int(len(x) * validation_split)`` samples, training the rest.

    Raises:
        ValueError: extra inputs, ``y`` or ``sample_weight`` of another length than ``x``,
            a bad ``subset``, or (unless ``ignore_class_split``) training and validation
            parts with different sets of label values (Keras's texts).
    """
    misc: list[Any] = []
    if isinstance(x, (tuple, list)):  # Keras: (images, misc) or (images, [misc, ...])
        misc = [as_column(m) for m in (x[1] if isinstance(x[1], list) else [x[1]])]
        x = x[0]
        for m in misc:
            if len(x) != len(m):
                raise ValueError(
                    "All of the arrays in `x` should have the same length. Found a pair with: "
                    f"len(x[0]) = {len(x)}, len(x[?]) = {len(m)}"
                )
    if y is not None and len(x) != len(y):
        raise ValueError(
            "`x` (images tensor) and `y` (labels) should have the same length. "
            f"Found: x.shape = {_shape(x)}, y.shape = {_shape(y)}"
        )
    if sample_weight is not None and len(x) != len(sample_weight):
        raise ValueError(
            "`x` (images tensor) and `sample_weight` should have the same length. "
            f"Found: x.shape = {_shape(x)}, sample_weight.shape = {_shape(sample_weight)}"
        )
    if subset is not None:
        if subset not in {"training", "validation"}:
            raise ValueError(
                f'Invalid subset name: {subset}; expected "training" or "validation".'
            )
        k = int(len(x) * validation_split)
        if y is not None and not ignore_class_split \
                and not np.array_equal(_unique(y[:k]), _unique(y[k:])):
            raise ValueError(
                "Training and validation subsets have different number of classes after the "
                "split. If your numpy arrays are sorted by the label, you might want to "
                "shuffle them."
            )
        part = slice(None, k) if subset == "validation" else slice(k, None)
        x, misc = x[part], [m[part] for m in misc]
        y = None if y is None else y[part]
        # Keras keeps the whole sample_weight here (then x and weights disagree in length);
        # slicing it along keeps every batch's weights with their samples.
        sample_weight = None if sample_weight is None else sample_weight[part]
    return x, y, sample_weight, misc


class NumpyArrayIterator(LoaderIterator):
    """Iterator over in-memory images, Keras's ``NumpyArrayIterator`` (keras-semantics §A15).

    Args:
        x: images ``(N, H, W, C)`` (channels_last) or ``(N, C, H, W)``, numpy or tensor
            (a CUDA tensor is copied to the host); or ``(images, misc)`` /
            ``(images, [misc, ...])`` with extra inputs returned as ``[batch_x, *misc]``.
            uint8 and ``dtype`` images are kept as they are, others converted once.
        y: labels (any numeric dtype: tensors of that dtype; strings: numpy) or None.
        image_data_generator: the ``ImageDataGenerator`` that augments and standardizes,
            and whose ``validation_split`` applies to ``subset``.
        batch_size: samples per batch. shuffle: new order each epoch.
        sample_weight: ``(N,)`` weights, returned as the third item (only with ``y``).
        seed: order and augmentation seed; None draws a fresh one (``it.seed`` stays None).
        data_format, dtype: None -> the generator's.
        save_to_dir, save_prefix, save_format: save every yielded image (§A13; hashes in
            ``[0, 10**4)`` as Keras's array iterator).
        subset: "training", "validation" or None. ignore_class_split: skip the check that
            both parts hold the same label values.
        num_workers: loader processes for ``next()``/``for`` (0 = this process).
        device: where batches are delivered (None = CPU). pin_memory: None = CUDA only.

    Raises:
        ValueError / TypeError: Keras's checks (§A16) and the loader's argument checks.

    Warns:
        UserWarning: a channel count other than 1, 3 or 4 (Keras's text).
    """

    save_hash_range = 10**4

    def __init__(
        self, x: Any, y: Any, image_data_generator: Any, batch_size: int = 32,
        shuffle: bool = False, sample_weight: Any = None, seed: int | None = None,
        data_format: str | None = None, save_to_dir: str | None = None, save_prefix: str = "",
        save_format: str = "png", subset: str | None = None, ignore_class_split: bool = False,
        dtype: torch.dtype | str | None = None, *, num_workers: int = 0,
        device: str | torch.device | None = None, pin_memory: bool | None = None,
    ) -> None:
        gen = image_data_generator
        check_loader_args(batch_size, shuffle, seed, num_workers, device, pin_memory, 0.0,
                          "raise")
        data_format = v.check_data_format(gen.data_format if data_format is None
                                          else data_format)
        dtype = v.check_dtype(gen.dtype if dtype is None else dtype)
        x, y, sample_weight, misc = split_inputs(
            x, y, sample_weight, getattr(gen, "_validation_split", 0.0), subset,
            ignore_class_split)
        images = as_images(x, dtype)
        if images.dim() != 4:
            raise ValueError(
                "Input data in `NumpyArrayIterator` should have rank 4. You passed an array "
                f"with shape {_shape(images)}"
            )
        axis = 3 if data_format == "channels_last" else 1
        if images.shape[axis] not in {1, 3, 4}:
            warnings.warn(
                f'NumpyArrayIterator is set to use the data format convention "{data_format}" '
                f"(channels on axis {axis}), i.e. expected either 1, 3, or 4 channels on axis "
                f"{axis}. However, it was passed an array with shape {_shape(images)} "
                f"({images.shape[axis]} channels).", UserWarning, stacklevel=3)
        dataset = ArrayDataset(images, y, sample_weight, misc, data_format, dtype)
        super().__init__(dataset, gen, batch_size, shuffle, seed, save_to_dir, save_prefix,
                         save_format, num_workers, device, pin_memory, timeout=0.0)


forward_attributes(NumpyArrayIterator, _FORWARDED)

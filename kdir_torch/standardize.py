"""Standardization: rescale, samplewise/featurewise statistics, ZCA whitening and ``fit``.

Keras's legacy ``ImageDataGenerator.standardize`` / ``fit`` (keras-semantics §A12) as torch tensor
ops that work on one image or a whole batch, on any device. The order of operations, the
``1e-6`` guards, the fitted-statistics shapes and every warning text are Keras's.

One deliberate difference from Keras, documented in :meth:`Standardizer.standardize`: on a
batch, samplewise statistics are taken per image (what Keras documents and what its iterator
does image by image), unless ``whole_array=True`` asks for Keras's whole-array statistics.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from kdir_torch._validation import check_bool, check_data_format, check_dtype
from kdir_torch.standardize_fit import (
    Augmenter,
    as_float_tensor,
    augment_rounds,
    check_fit_input,
    featurewise_stats,
)

__all__ = ["Augmenter", "Standardizer", "as_float_tensor"]

_NOT_FIT = (
    "This ImageDataGenerator specifies `{}`, but it hasn't been fit on any training data. "
    "Fit it first by calling `.fit(numpy_data)`."
)
_COUPLING = {
    "zca_center": "This ImageDataGenerator specifies `zca_whitening`, which overrides setting of "
    "`featurewise_center`.",
    "zca_std": "This ImageDataGenerator specifies `zca_whitening` which overrides setting of"
    "`featurewise_std_normalization`.",
    "std_center": "This ImageDataGenerator specifies `featurewise_std_normalization`, which "
    "overrides setting of `featurewise_center`.",
    "sample": "This ImageDataGenerator specifies `samplewise_std_normalization`, which "
    "overrides setting of `samplewise_center`.",
}


class Standardizer:
    """Keras's ``standardize`` pipeline and ``fit`` statistics (keras-semantics §A12).

    Args:
        featurewise_center: subtract the fitted per-channel ``mean``.
        samplewise_center: subtract each image's own mean.
        featurewise_std_normalization: divide by the fitted per-channel ``std`` (+1e-6).
        samplewise_std_normalization: divide by each image's own population std (+1e-6).
        zca_whitening: multiply the flattened image by the fitted ``zca_whitening_matrix``.
        zca_epsilon: added to the singular values when fitting ZCA.
        rescale: factor applied after ``preprocessing_function``; None or 0 skips it.
        preprocessing_function: called on each image (a numpy array in ``data_format``
            layout, as in Keras) before ``rescale``; must return an array of the same shape.
        data_format: layout of the images given to ``standardize``/``fit``.
        dtype: dtype of the fitted statistics and of non-floating inputs (default float32).

    Raises:
        TypeError: a flag is not a bool, ``rescale``/``zca_epsilon`` is not a number, or
            ``preprocessing_function`` is not callable.
        ValueError: bad ``data_format``/``dtype`` or a negative ``zca_epsilon``.

    The flag couplings warn exactly as Keras (UserWarning, §A16): ``zca_whitening`` forces
    ``featurewise_center`` on and ``featurewise_std_normalization`` off;
    ``featurewise_std_normalization`` forces ``featurewise_center``;
    ``samplewise_std_normalization`` forces ``samplewise_center``.
    """

    def __init__(
        self,
        featurewise_center: bool = False,
        samplewise_center: bool = False,
        featurewise_std_normalization: bool = False,
        samplewise_std_normalization: bool = False,
        zca_whitening: bool = False,
        zca_epsilon: float = 1e-6,
        rescale: float | None = None,
        preprocessing_function: Callable[[np.ndarray], Any] | None = None,
        data_format: str = "channels_first",
        dtype: torch.dtype | str | None = None,
    ) -> None:
        flags = {
            "featurewise_center": featurewise_center,
            "samplewise_center": samplewise_center,
            "featurewise_std_normalization": featurewise_std_normalization,
            "samplewise_std_normalization": samplewise_std_normalization,
            "zca_whitening": zca_whitening,
        }
        _check_args(flags, zca_epsilon, rescale, preprocessing_function)
        self.data_format = check_data_format(data_format)
        self.dtype = check_dtype(dtype)
        self.zca_epsilon = zca_epsilon
        self.rescale = rescale
        self.preprocessing_function = preprocessing_function
        for name, value in _couple_flags(flags).items():
            setattr(self, name, value)
        self._mean = self._std = self._zca = None
        self._cache: dict[tuple[str, torch.device, torch.dtype], torch.Tensor] = {}

    # -- fitted statistics -------------------------------------------------------------------
    @property
    def channel_axis(self) -> int:
        """Channel axis of a rank-4 batch in ``data_format`` (1 or 3, as Keras's attribute)."""
        return 1 if self.data_format == "channels_first" else 3

    @property
    def mean(self) -> torch.Tensor | None:
        """Fitted per-channel mean, shape ``(C, 1, 1)`` or ``(1, 1, C)``; settable."""
        return self._mean

    @mean.setter
    def mean(self, value: Any) -> None:
        self._mean = self._stat_tensor(value)

    @property
    def std(self) -> torch.Tensor | None:
        """Fitted per-channel population std, same shape as ``mean``; settable."""
        return self._std

    @std.setter
    def std(self, value: Any) -> None:
        self._std = self._stat_tensor(value)

    @property
    def zca_whitening_matrix(self) -> torch.Tensor | None:
        """Fitted ZCA matrix, shape ``(H*W*C, H*W*C)`` in ``data_format`` flatten order."""
        return self._zca

    @zca_whitening_matrix.setter
    def zca_whitening_matrix(self, value: Any) -> None:
        self._zca = self._stat_tensor(value)

    def _stat_tensor(self, value: Any) -> torch.Tensor | None:
        self._cache = {}
        return None if value is None else as_float_tensor(value, self.dtype).to(self.dtype)

    def _stat_like(self, name: str, x: torch.Tensor) -> torch.Tensor:
        """The statistic ``name`` on ``x``'s device and dtype (cached per device/dtype)."""
        key = (name, x.device, x.dtype)
        if key not in self._cache:
            self._cache[key] = getattr(self, name).to(device=x.device, dtype=x.dtype)
        return self._cache[key]

    @property
    def is_identity(self) -> bool:
        """True when ``standardize`` returns its input unchanged (nothing configured)."""
        return not (
            self.preprocessing_function or self.rescale or self.samplewise_center
            or self.samplewise_std_normalization or self.featurewise_center
            or self.featurewise_std_normalization or self.zca_whitening
        )

    # -- standardize -------------------------------------------------------------------------
    def standardize(self, x: Any, *, whole_array: bool = False) -> torch.Tensor:
        """Apply the normalization configuration in Keras's order (keras-semantics §A12).

        Order: ``preprocessing_function`` (per image), ``rescale``, samplewise center,
        samplewise std, featurewise center, featurewise std, ZCA. An unfitted featurewise/ZCA
        step warns with Keras's text and is skipped. The input is never modified.

        Args:
            x: one image ``(C, H, W)``/``(H, W, C)`` or a batch ``(B, ...)`` in
                ``data_format``; numpy array or tensor on any device.
            whole_array: False (default): samplewise statistics and ``preprocessing_function``
                are per image, so a batch equals the images standardized one by one. True:
                Keras's behaviour for an array passed to ``standardize`` directly -- the
                function is called once on the whole array and the samplewise mean/std are
                taken over all its elements.

        Returns:
            Floating tensor of ``x``'s shape (non-floating input becomes ``dtype``).

        Raises:
            ValueError: ``x`` is not rank 3 or 4.
        """
        x = as_float_tensor(x, self.dtype)
        if x.dim() not in (3, 4):
            raise ValueError(
                "`x` must be a single image (rank 3) or a batch of images (rank 4). "
                f"Received: x.shape={tuple(x.shape)}"
            )
        if self.preprocessing_function:
            x = self._preprocess(x, whole_array)
        if self.rescale:
            x = x * self.rescale
        dims = None if whole_array else (-3, -2, -1)
        if self.samplewise_center:
            x = x - (x.mean() if dims is None else x.mean(dim=dims, keepdim=True))
        if self.samplewise_std_normalization:
            sd = x.std(dim=dims, correction=0, keepdim=dims is not None)
            x = x / (sd + 1e-6)
        return self._featurewise(x)

    def _preprocess(self, x: torch.Tensor, whole_array: bool) -> torch.Tensor:
        """Run ``preprocessing_function`` on numpy copies, per image unless ``whole_array``."""
        fn = self.preprocessing_function
        if whole_array or x.dim() == 3:
            return _from_user(fn(x.detach().cpu().numpy().copy()), x)
        host = x.detach().cpu().numpy()
        return torch.stack([_from_user(fn(img.copy()), x) for img in host])

    def _featurewise(self, x: torch.Tensor) -> torch.Tensor:
        if self.featurewise_center:
            if self._mean is None:
                warnings.warn(_NOT_FIT.format("featurewise_center"), UserWarning, stacklevel=3)
            else:
                x = x - self._stat_like("mean", x)
        if self.featurewise_std_normalization:
            if self._std is None:
                warnings.warn(
                    _NOT_FIT.format("featurewise_std_normalization"), UserWarning, stacklevel=3
                )
            else:
                x = x / (self._stat_like("std", x) + 1e-6)
        if self.zca_whitening:
            if self._zca is None:
                warnings.warn(_NOT_FIT.format("zca_whitening"), UserWarning, stacklevel=3)
            else:
                flat = x.reshape(-1, math.prod(x.shape[-3:]))
                x = (flat @ self._stat_like("zca_whitening_matrix", x)).reshape(x.shape)
        return x

    # -- fit ---------------------------------------------------------------------------------
    def fit(
        self,
        x: Any,
        augment: bool = False,
        rounds: int = 1,
        seed: int | None = None,
        augmenter: Augmenter | None = None,
    ) -> None:
        """Compute ``mean``/``std``/``zca_whitening_matrix`` from sample data (§A12).

        ``rescale`` is applied first (``preprocessing_function`` is not, as in Keras). With
        ``augment``, ``rounds`` augmented copies of ``x`` are made, round-major: round ``r``
        draws parameters for indices ``0..N-1`` at ``epoch=r`` from ``seed`` (or, when None,
        from a seed derived from ``augmenter.seed``). Statistics are computed in float64 and
        stored in ``dtype``: per-channel mean over (N, H, W), population std of the centred
        data, and ZCA ``W = U diag(sqrt(n) / (s + zca_epsilon)) U^T`` from the SVD of the
        flattened data's transpose.

        Args:
            x: rank-4 array/tensor ``(N, H, W, C)`` or ``(N, C, H, W)`` per ``data_format``.
            augment: fit on randomly augmented samples (needs ``augmenter``).
            rounds: number of augmentation passes (``augment=True`` only).
            seed: seed of the augmentation draws.
            augmenter: a ``kdir_torch.augment.Augment`` (channels-first) used when ``augment``.

        Raises:
            ValueError: ``x`` is not rank 4 (Keras's message), is empty, or ``rounds`` < 1.
            TypeError: ``augment=True`` without an ``augmenter``.
        """
        x = check_fit_input(x, self.data_format, self.dtype)
        if self.rescale:
            x = x * self.rescale
        if augment:
            x = augment_rounds(x, rounds, seed, augmenter, self.channel_axis)
        stats = featurewise_stats(
            x,
            self.channel_axis,
            center=self.featurewise_center,
            std_normalization=self.featurewise_std_normalization,
            zca=self.zca_whitening,
            zca_epsilon=self.zca_epsilon,
        )
        for name, value in stats.items():
            setattr(self, name, value)


def _couple_flags(flags: dict[str, bool]) -> dict[str, bool]:
    """Keras's constructor flag coupling, warning with its texts (keras-semantics §A12, §A16)."""
    out = dict(flags)
    if flags["zca_whitening"]:
        if not flags["featurewise_center"]:
            out["featurewise_center"] = True
            warnings.warn(_COUPLING["zca_center"], UserWarning, stacklevel=4)
        if flags["featurewise_std_normalization"]:
            out["featurewise_std_normalization"] = False
            warnings.warn(_COUPLING["zca_std"], UserWarning, stacklevel=4)
    if flags["featurewise_std_normalization"] and not flags["featurewise_center"]:
        out["featurewise_center"] = True
        warnings.warn(_COUPLING["std_center"], UserWarning, stacklevel=4)
    if flags["samplewise_std_normalization"] and not flags["samplewise_center"]:
        out["samplewise_center"] = True
        warnings.warn(_COUPLING["sample"], UserWarning, stacklevel=4)
    return out


def _check_args(
    flags: dict[str, Any], zca_epsilon: Any, rescale: Any, preprocessing_function: Any
) -> None:
    """Type/value checks of the constructor arguments (Keras-shaped messages)."""
    for name, value in flags.items():
        check_bool(name, value)
    _check_number("zca_epsilon", zca_epsilon, allow_none=False)
    if zca_epsilon < 0:
        raise ValueError(f"`zca_epsilon` must be >= 0. Received: zca_epsilon={zca_epsilon}")
    _check_number("rescale", rescale, allow_none=True)
    if preprocessing_function is not None and not callable(preprocessing_function):
        raise TypeError(
            "`preprocessing_function` must be callable or None. "
            f"Received: preprocessing_function={preprocessing_function!r}"
        )


def _check_number(name: str, value: Any, *, allow_none: bool) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"`{name}` must be a number. Received: {name}={value!r}")


def _from_user(result: Any, like: torch.Tensor) -> torch.Tensor:
    """A ``preprocessing_function`` result as a tensor of ``like``'s device and dtype."""
    return as_float_tensor(result, like.dtype).to(device=like.device, dtype=like.dtype)

"""The maths of ``fit``: input checks, augmentation rounds, per-channel statistics and ZCA.

Helpers of :meth:`kdir_torch.standardize.Standardizer.fit` (keras-semantics §A12, §A16), split out
to keep modules small. Everything is a torch op; statistics are computed in float64.
"""

from __future__ import annotations

import math
import numbers
import warnings
from typing import Any, Protocol

import numpy as np
import torch

from kdir_torch._rng import derive_seed, resolve_seed

_FIT_TAG = 0xF17  # seed-derivation counter for fit(augment=True) draws when no seed is given


class Augmenter(Protocol):
    """What ``fit(augment=True)`` needs: ``kdir_torch.augment.Augment``'s draw/apply API."""

    seed: int

    def make_params(self, image_hw: tuple[int, int], indices: Any, *, epoch: int = 0,
                    seed: int | None = None) -> Any: ...

    def apply(self, x: torch.Tensor, params: Any) -> torch.Tensor: ...


def as_float_tensor(x: Any, dtype: torch.dtype) -> torch.Tensor:
    """``x`` (numpy array, tensor or nested sequence) as a floating tensor.

    Args:
        x: array-like or tensor.
        dtype: dtype used when ``x`` is not floating (integers, bools).

    Returns:
        ``x`` itself when it is already a floating tensor; otherwise a tensor (sharing memory
        with a writable floating numpy array).
    """
    if not isinstance(x, torch.Tensor):
        arr = np.asarray(x)
        x = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    return x if x.is_floating_point() else x.to(dtype)


def check_fit_input(x: Any, data_format: str, dtype: torch.dtype) -> torch.Tensor:
    """``x`` as a tensor of ``dtype`` after Keras's rank check and channel-count warning.

    Args:
        x: sample data, rank 4, in ``data_format`` layout.
        data_format: "channels_first" (channels on axis 1) or "channels_last" (axis 3).
        dtype: target dtype (Keras's ``np.asarray(x, dtype)``).

    Returns:
        Tensor of ``dtype`` with ``x``'s shape (a new tensor or ``x`` itself).

    Raises:
        ValueError: ``x`` is not rank 4 (Keras's text) or holds no image.
    """
    x = as_float_tensor(x, dtype).to(dtype)
    shape = tuple(x.shape)
    if x.dim() != 4:
        raise ValueError(f"Input to `.fit()` should have rank 4. Got array with shape: {shape}")
    ax = 1 if data_format == "channels_first" else 3
    if shape[ax] not in (1, 3, 4):
        warnings.warn(
            "Expected input to be images (as Numpy array) following the data format "
            f'convention "{data_format}" (channels on axis {ax}), i.e. expected either '
            f"1, 3 or 4 channels on axis {ax}. However, it was passed an array with shape "
            f"{shape} ({shape[ax]} channels).",
            UserWarning,
            stacklevel=4,
        )
    if shape[0] == 0:
        raise ValueError(f"`x` must contain at least one image. Received: x.shape={shape}")
    return x


def augment_rounds(
    x: torch.Tensor,
    rounds: int,
    seed: int | None,
    augmenter: Augmenter | None,
    channel_axis: int,
) -> torch.Tensor:
    """``rounds`` augmented copies of ``x`` concatenated round-major (Keras's ``fit`` order).

    Round ``r`` draws parameters for indices ``0..N-1`` at ``epoch=r`` from ``seed``; with
    ``seed=None`` the seed is derived from ``augmenter.seed`` (so a seeded generator fits
    reproducibly).

    Args:
        x: ``(N, C, H, W)`` (``channel_axis=1``) or ``(N, H, W, C)`` (``channel_axis=3``).
        rounds: number of passes, >= 1.
        seed: draw seed or None.
        augmenter: channels-first augmenter (``kdir_torch.augment.Augment``).
        channel_axis: 1 or 3, the layout of ``x``.

    Returns:
        Tensor ``(rounds * N, ...)`` in ``x``'s layout and dtype.

    Raises:
        TypeError: no ``augmenter``, or a non-integer ``seed``.
        ValueError: ``rounds`` is not a positive integer.
    """
    if augmenter is None:
        raise TypeError("`fit(augment=True)` needs an `augmenter`. Received: augmenter=None")
    if isinstance(rounds, bool) or not isinstance(rounds, numbers.Integral) or rounds < 1:
        raise ValueError(f"`rounds` must be a positive integer. Received: rounds={rounds!r}")
    seed = derive_seed(augmenter.seed, _FIT_TAG) if seed is None else resolve_seed(seed)
    cf = x if channel_axis == 1 else x.permute(0, 3, 1, 2)
    idx = torch.arange(cf.shape[0], dtype=torch.int64)
    hw = (int(cf.shape[2]), int(cf.shape[3]))
    parts = [
        augmenter.apply(cf, augmenter.make_params(hw, idx, epoch=r, seed=seed))
        for r in range(int(rounds))
    ]
    out = torch.cat(parts)
    return out if channel_axis == 1 else out.permute(0, 2, 3, 1)


def featurewise_stats(
    x: torch.Tensor,
    channel_axis: int,
    *,
    center: bool,
    std_normalization: bool,
    zca: bool,
    zca_epsilon: float,
) -> dict[str, torch.Tensor]:
    """Keras's fitted statistics of a rank-4 batch, computed in float64 (§A12 steps 4-6).

    Args:
        x: ``(N, ...)`` data in the layout given by ``channel_axis`` (rescaled/augmented).
        channel_axis: 1 (channels_first) or 3 (channels_last).
        center: compute ``mean`` (per channel over N, H, W) and centre the data.
        std_normalization: compute ``std`` (population std of the centred data) and divide.
        zca: compute ``zca_whitening_matrix`` of the data as transformed so far.
        zca_epsilon: added to the singular values.

    Returns:
        float64 tensors keyed "mean"/"std" (shape ``(C,1,1)`` or ``(1,1,C)``) and
        "zca_whitening_matrix" (``(d, d)``), only for the statistics asked for.
    """
    x = x.to(torch.float64)
    axes = tuple(a for a in range(4) if a != channel_axis)
    shape = [1, 1, 1]
    shape[channel_axis - 1] = x.shape[channel_axis]
    out: dict[str, torch.Tensor] = {}
    if center:
        out["mean"] = x.mean(dim=axes).reshape(shape)
        x = x - out["mean"]
    if std_normalization:
        out["std"] = x.std(dim=axes, correction=0).reshape(shape)
        x = x / (out["std"] + 1e-6)
    if zca:
        out["zca_whitening_matrix"] = zca_matrix(x, zca_epsilon)
    return out


def zca_matrix(x: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Keras L-new ZCA matrix: ``U diag(sqrt(n) / (s + epsilon)) U^T`` (§A12 step 6).

    ``U, s`` come from the thin SVD of the flattened data's transpose, as Keras's
    ``np.linalg.svd(flat_x.T, full_matrices=False)``.

    Args:
        x: ``(n, ...)`` (centred) data, any float dtype.
        epsilon: added to the singular values.

    Returns:
        float64 tensor ``(d, d)`` with d the product of ``x.shape[1:]``.
    """
    n = x.shape[0]
    flat = x.reshape(n, -1).to(torch.float64)
    u, s, _ = torch.linalg.svd(flat.T, full_matrices=False)
    return (u * (math.sqrt(n) / (s + epsilon))) @ u.T

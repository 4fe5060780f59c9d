"""Parts of a dataset: ``take`` (any index list), ``kt.split`` (N-way, stratified) and the
conversion of ``torch.utils.data.Subset`` for ``make_loader``.

A part is a dataset of the same class as its parent: a shallow copy whose compact index
(``DirectoryIndex.take``, or the modern dataset's paths and labels) holds only its samples,
in the parent's order. So it keeps ``filenames``, ``filepaths``, ``classes``,
``class_indices`` and ``class_names`` (the parent's class list, even for a class that has no
sample in the part), and works everywhere a dataset does: ``ds[i]``, ``make_loader`` (uint8
transport, the shared-memory slot ring), DDP, another ``split``. ``part.parent_indices`` holds
the positions of its samples in the dataset it was taken from.

Augmentation draws stay those of the parent: the part's augmentation is keyed by the parent
index of each sample, so ``part[i]`` equals ``parent[part.parent_indices[i]]`` at the same
epoch (and a loader over a ``Subset`` yields what stacking ``subset[i]`` gives). A part has
an epoch of its own (``set_epoch``), except a converted ``Subset``, which shares its dataset's
as ``Subset.__getitem__`` does.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from itertools import pairwise
from numbers import Real
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from .._rng import resolve_seed, torch_generator
from ..cache import take_cache
from .classmap import class_array

_SPLIT_TAG = 0x5B117  # counter separating split permutations from every other draw


class KeyedAugment:
    """An augmentation whose draws are keyed by ``keys[i]`` instead of the index ``i``.

    Args:
        inner: the ``make_params``/``apply`` augmentation.
        keys: ``(N,)`` int64 key of every sample (its index in the original dataset).
    """

    def __init__(self, inner: Any, keys: np.ndarray) -> None:
        self.inner, self.keys = inner, keys

    @classmethod
    def wrap(cls, augment: Any, indices: np.ndarray) -> Any:
        """``augment`` keyed for the samples ``indices`` of the dataset it belongs to."""
        if augment is None:
            return None
        if isinstance(augment, KeyedAugment):
            return cls(augment.inner, augment.keys[indices])
        return cls(augment, indices)

    def make_params(self, image_hw: tuple[int, int], indices: Any, *, epoch: int = 0,
                    seed: int | None = None) -> Any:
        """The inner draws for the keys of ``indices``."""
        idx = torch.as_tensor(indices).cpu().numpy()
        return self.inner.make_params(image_hw, torch.from_numpy(self.keys[idx]), epoch=epoch,
                                      seed=seed)

    def apply(self, x: torch.Tensor, params: Any) -> torch.Tensor:
        return self.inner.apply(x, params)

    def __getattr__(self, name: str) -> Any:  # seed, seeded, is_identity, ...
        if name in ("inner", "keys"):
            raise AttributeError(name)
        return getattr(self.inner, name)

    def __repr__(self) -> str:
        return f"KeyedAugment({self.inner!r}, n={len(self.keys)})"


def _positions(indices: Any, n: int) -> np.ndarray:
    """``indices`` as a read-only int64 array of positions in ``[0, n)`` (negatives wrap)."""
    idx = np.asarray(indices.numpy() if isinstance(indices, torch.Tensor) else indices)
    if idx.size == 0:
        idx = idx.astype(np.int64)
    if idx.ndim != 1 or idx.dtype.kind not in "iu":
        raise TypeError(f"`indices` must be a 1-D sequence of integers. Received: dtype="
                        f"{idx.dtype}, shape={idx.shape}")
    idx = idx.astype(np.int64)
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"indices {int(idx.min())}..{int(idx.max())} are out of range for a "
                         f"dataset of {n} samples")
    idx = np.where(idx < 0, idx + n, idx)
    idx.setflags(write=False)
    return idx


def take(dataset: Any, indices: Any, *, share_epoch: bool = False) -> Any:
    """The samples ``indices`` of ``dataset`` (in that order) as a dataset of its own class.

    Args:
        dataset: a kdir_torch dataset (legacy ``index`` with ``take``, or the modern
            ``file_paths``/``labels``), or a ``torch.utils.data.Subset`` of one.
        indices: positions in ``dataset``.
        share_epoch: keep the dataset's epoch cell (``Subset`` semantics) instead of a fresh
            one starting at epoch 0.

    Returns:
        The part (see the module docstring).

    Raises:
        TypeError: a dataset this function cannot slice. IndexError: an index out of range.
    """
    dataset = require_dataset(dataset, "take")
    idx = _positions(indices, len(dataset))
    part = copy.copy(dataset)
    index = getattr(dataset, "index", None)
    if hasattr(index, "take") and hasattr(index, "filenames"):
        part.index = index.take(idx)
    elif hasattr(dataset, "file_paths"):
        part.file_paths = dataset.file_paths.take(idx)
        labels = getattr(dataset, "labels", None)
        part.labels = None if labels is None else labels[idx]
    else:
        raise TypeError(f"Cannot take samples of a {type(dataset).__name__}: it has neither "
                        "a directory index nor file_paths.")
    part.augment = KeyedAugment.wrap(getattr(dataset, "augment", None), idx)
    if not share_epoch:
        part.__dict__.pop("_epoch_cell", None)
        part.epoch = 0
    part.parent_indices = idx
    take_cache(part, idx)
    return part


def as_dataset(dataset: Any) -> Any:
    """A kdir_torch dataset for ``dataset``: itself, or a ``Subset`` (nested ones too) as a
    part of its dataset (``take`` with the Subset's indices, sharing its epoch)."""
    if isinstance(dataset, Subset):
        return take(as_dataset(dataset.dataset), dataset.indices, share_epoch=True)
    return dataset


def require_dataset(dataset: Any, what: str) -> Any:
    """``as_dataset(dataset)``, which must speak the dataset protocol.

    Raises:
        TypeError: anything else (e.g. the batches ``image_dataset_from_directory`` returns).
    """
    ds = as_dataset(dataset)
    if not (hasattr(ds, "load_raw") and hasattr(ds, "finish_batch") and hasattr(ds, "__len__")):
        hint = (" (image_dataset_from_directory returns batches: pass its `.dataset`)"
                if hasattr(ds, "dataset") else "")
        raise TypeError(f"{what} needs a kdir_torch dataset (KerasDirDataset, ModernDirDataset, "
                        f"a kt.split part or a torch Subset of one){hint}. "
                        f"Received: {type(dataset).__name__}")
    return ds


def check_points(points: Any) -> list[float]:
    """Split points strictly increasing in (0, 1); one number is one point.

    Raises:
        ValueError: anything else (the message names the points).
    """
    pts = [points] if isinstance(points, Real) and not isinstance(points, bool) else points
    ok = isinstance(pts, (list, tuple, np.ndarray)) and len(pts) > 0 and all(
        isinstance(p, Real) and not isinstance(p, bool) and 0 < p < 1 for p in pts)
    if ok:
        vals = [float(p) for p in pts]
        ok = all(a < b for a, b in pairwise(vals))
    if not ok:
        raise ValueError(
            "`points` must be split fractions strictly increasing in (0, 1), e.g. [0.2, 0.4] "
            f"for 20% / 20% / 60%. Received: points={points!r}"
        )
    return vals


def split_indices(num_samples: int, points: Sequence[float], seed: int,
                  groups: np.ndarray | None = None) -> list[np.ndarray]:
    """Positions of each part of a split (the maths of ``kt.split``).

    One permutation of ``0..N-1`` is drawn from ``torch_generator(seed, _SPLIT_TAG)``. Without
    ``groups`` part ``k`` takes the permuted positions ``[round(p_k N), round(p_{k+1} N))``
    (``p_0 = 0``, ``p_last = 1``); with ``groups`` the same cut is made inside every group
    (its members in permutation order), so part ``k`` holds ``round(p_{k+1} n_g) -
    round(p_k n_g)`` members of a group of ``n_g``: within one sample of the exact share.

    Args:
        num_samples: ``N``.
        points: strictly increasing fractions in (0, 1).
        seed: permutation seed.
        groups: ``(N,)`` integer group (class) of every sample, or None.

    Returns:
        ``len(points) + 1`` sorted int64 arrays, disjoint, together ``0..N-1``.
    """
    n = int(num_samples)
    perm = torch.randperm(n, generator=torch_generator(seed, _SPLIT_TAG)).numpy()
    if groups is None:
        rank, sizes, members = np.arange(n), np.full(n, n), perm
    else:
        _, group = np.unique(np.asarray(groups)[perm], return_inverse=True)
        order = np.argsort(group, kind="stable")  # by group, permutation order inside
        grouped = group[order]
        rank = np.arange(n) - np.searchsorted(grouped, grouped, side="left")
        sizes, members = np.bincount(grouped)[grouped], perm[order]
    cuts = np.floor(np.outer(sizes, np.asarray(points, dtype=np.float64)) + 0.5)
    part = (rank[:, None] >= cuts).sum(axis=1)
    return [np.sort(members[part == k]).astype(np.int64) for k in range(len(points) + 1)]


def split(dataset: Any, points: Any, seed: int | None = 0,
          stratify: bool = True) -> list[Any]:
    """Cut a dataset into ``len(points) + 1`` disjoint parts at the given fractions.

    ``kt.split(ds, [0.2, 0.4])`` gives 20 % / 20 % / 60 %. With ``stratify`` (the default)
    every class is cut at the same fractions, so each part holds each class's share to within
    one sample; the parts are deterministic for a seed, disjoint and together the whole
    dataset, each in the dataset's order (see ``split_indices``). Each part is a dataset (see
    the module docstring): ``test, val, train = kt.split(ds, [0.1, 0.2], seed=0)``.

    Args:
        dataset: a kdir_torch dataset, a part of one, or a ``torch.utils.data.Subset`` of one.
        points: fractions strictly increasing in (0, 1) (one number for a 2-way split).
        seed: permutation seed (None draws a fresh one, so the split differs run to run).
        stratify: cut per class (needs the class of every sample).

    Returns:
        A list of ``len(points) + 1`` parts.

    Raises:
        ValueError: bad ``points`` (named in the message), or ``stratify`` on a dataset
            without classes.
        TypeError: a non-bool ``stratify`` or a non-integer ``seed``.
    """
    pts = check_points(points)
    if not isinstance(stratify, bool):
        raise TypeError(f"`stratify` must be a bool. Received: stratify={stratify!r}")
    ds = require_dataset(dataset, "kt.split")
    groups = class_array(ds, "split(stratify=True)") if stratify else None
    parts = split_indices(len(ds), pts, resolve_seed(seed), groups)
    return [take(ds, idx) for idx in parts]

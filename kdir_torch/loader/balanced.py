"""Balanced epochs: ``make_loader(ds, max_per_class=N)`` and ``balance="oversample"`` /
``"undersample"``.

Every epoch takes a fixed number ``T_c`` of samples from each class ``c`` (``n_c`` samples):

* ``max_per_class=N`` alone: ``T_c = min(n_c, N)``; a class larger than ``N`` contributes
  ``N`` distinct samples drawn uniformly without replacement, a smaller one all of its samples.
* ``balance="undersample"``: ``T_c = T = min(n_min, N)`` for every class, ``n_min`` the
  smallest class that has samples: each class contributes ``T`` distinct samples.
* ``balance="oversample"``: ``T_c = T = min(n_max, N)``, ``n_max`` the largest class: a class
  smaller than ``T`` repeats its samples as evenly as possible (each appears ``T // n_c`` or
  ``T // n_c + 1`` times, the extra ones drawn without replacement), a larger one (only with
  ``max_per_class``) contributes ``T`` distinct samples.
* A class without samples contributes nothing (there is nothing to repeat).

The draw is redrawn every epoch from ``torch_generator(seed, _BALANCE_TAG, epoch)``, so it is a
pure function of ``(seed, epoch)``: reproducible, the same for any ``num_workers``, the same on
every rank, resumable through ``state_dict``. The epoch then holds ``M = sum_c T_c`` samples
(the same every epoch, so ``len(loader)`` is exact): shuffled when ``shuffle=True``, else in
dataset (``filenames``) order, repeats side by side; ``shuffle=False`` still redraws which
samples are taken. Sharding over DDP ranks and ``drop_last`` then work on those ``M``
positions exactly as on a plain epoch (``sampler.py``: padding by the head of the epoch).
"""

from __future__ import annotations

import numpy as np
import torch

from .._rng import torch_generator
from .sampler import SeededSampler

BALANCE_MODES = ("oversample", "undersample")
_BALANCE_TAG = 0xBA1A  # counter separating the balanced draws from every other stream


def class_targets(counts: np.ndarray, max_per_class: int | None,
                  balance: str | None) -> np.ndarray:
    """Samples per epoch of each class (``T_c`` in the module docstring).

    Args:
        counts: ``(K,)`` samples per class.
        max_per_class: the cap ``N``, or None.
        balance: None, "oversample" or "undersample".

    Returns:
        ``(K,)`` int64 targets (0 for an empty class).
    """
    counts = np.asarray(counts, dtype=np.int64)
    cap = np.iinfo(np.int64).max if max_per_class is None else int(max_per_class)
    present = counts > 0
    if balance is None:
        return np.minimum(counts, cap)
    if not present.any():
        return np.zeros_like(counts)
    level = counts[present].min() if balance == "undersample" else counts.max()
    return np.where(present, min(int(level), cap), 0).astype(np.int64)


def balanced_epoch(classes: np.ndarray, targets: np.ndarray, seed: int, epoch: int,
                   shuffle: bool) -> np.ndarray:
    """The dataset indices of one balanced epoch (see the module docstring).

    Args:
        classes: ``(N,)`` class of every sample.
        targets: ``(K,)`` samples per epoch of each class (``class_targets``).
        seed: the loader seed.
        epoch: the epoch.
        shuffle: permute the epoch, else dataset order.

    Returns:
        int64 ``(sum(targets),)``.
    """
    gen = torch_generator(seed, _BALANCE_TAG, epoch)
    n = len(classes)
    keys = torch.rand(n, generator=gen, dtype=torch.float64).numpy()
    order = np.lexsort((keys, classes))  # by class, random inside each class
    grouped = classes[order]
    rank = np.arange(n) - np.searchsorted(grouped, grouped, side="left")
    size = np.bincount(classes, minlength=len(targets))[grouped]
    want = targets[grouped]
    copies = want // size + (rank < want % size)
    chosen = np.repeat(order, copies)
    if shuffle:
        return chosen[torch.randperm(chosen.size, generator=gen).numpy()]
    return np.sort(chosen, kind="stable")


class BalancedSampler(SeededSampler):
    """A ``SeededSampler`` whose epochs are balanced draws (see the module docstring).

    Args:
        classes: ``(N,)`` integer class of every dataset sample.
        max_per_class: cap per class and epoch, or None.
        balance: None, "oversample" or "undersample".
        shuffle, seed, num_replicas, rank: as ``SeededSampler``.
    """

    def __init__(self, classes: np.ndarray, *, max_per_class: int | None = None,
                 balance: str | None = None, shuffle: bool = True, seed: int | None = None,
                 num_replicas: int = 1, rank: int = 0) -> None:
        self.classes = np.asarray(classes).astype(np.int64)
        counts = np.bincount(self.classes) if self.classes.size else np.zeros(0, np.int64)
        self.targets = class_targets(counts, max_per_class, balance)
        self.max_per_class, self.balance = max_per_class, balance
        super().__init__(int(self.targets.sum()), shuffle=shuffle, seed=seed,
                         num_replicas=num_replicas, rank=rank)

    def _draw(self, epoch: int) -> np.ndarray:
        return balanced_epoch(self.classes, self.targets, self.seed, epoch, self.shuffle)

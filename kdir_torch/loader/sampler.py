"""Seeded, epoch-aware samplers: which dataset indices a rank reads, in which batches.

The order of an epoch is a pure function of ``(seed, epoch, num_replicas, rank)``: the global
permutation comes from ``kdir_torch._rng.torch_generator(seed, epoch)`` (never the global RNG),
so every rank computes the same permutation without communicating, and any worker count sees
the same batches.

Sharding policy for ``num_replicas > 1`` (same as ``torch.utils.data.DistributedSampler``):
the permutation is padded to a multiple of ``num_replicas`` by repeating its head, then rank
``r`` takes positions ``r, r + R, r + 2R, ...``. Every sample is read once per epoch across
ranks, plus at most ``R - 1`` padding repeats, which ``gather_predictions`` drops again.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Sampler

from .._rng import resolve_seed, torch_generator


class SeededSampler(Sampler[int]):
    """Per-rank sample order for one epoch, reshuffled by ``set_epoch``.

    Args:
        num_samples: dataset length ``N``.
        shuffle: permute the indices each epoch (else ``0..N-1`` in order).
        seed: shuffle seed; None draws one from torch's default generator (as
            ``DataLoader``; numpy's global state is never used).
        num_replicas: number of ranks sharing the dataset (1 = no sharding).
        rank: this rank, ``0 <= rank < num_replicas``.

    Raises:
        TypeError: non-integer ``num_samples``/``num_replicas``/``rank`` or bad ``seed``.
        ValueError: negative sizes or ``rank`` outside ``[0, num_replicas)``.
    """

    def __init__(self, num_samples: int, *, shuffle: bool = True, seed: int | None = None,
                 num_replicas: int = 1, rank: int = 0) -> None:
        for name, val in (("num_samples", num_samples), ("num_replicas", num_replicas),
                          ("rank", rank)):
            if isinstance(val, bool) or not isinstance(val, (int, np.integer)):
                raise TypeError(f"`{name}` must be an integer. Received: {name}={val!r}")
        if num_samples < 0 or num_replicas < 1:
            raise ValueError(
                "`num_samples` must be >= 0 and `num_replicas` >= 1. "
                f"Received: num_samples={num_samples}, num_replicas={num_replicas}"
            )
        if not 0 <= rank < num_replicas:
            raise ValueError(
                f"`rank` must be in [0, {num_replicas}). Received: rank={rank}"
            )
        self.num_samples_total = int(num_samples)
        self.shuffle = bool(shuffle)
        self.seed = resolve_seed(seed)
        self.num_replicas, self.rank = int(num_replicas), int(rank)
        self.epoch = 0
        self.epoch_pinned = False  # set_epoch was called since a loader last read the epoch
        self._cache: tuple[tuple[int, bool, int] | None, np.ndarray | None] = (None, None)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose permutation ``__iter__`` yields (a ``DeviceLoader`` runs it
        on its next ``iter()`` instead of advancing by itself)."""
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise ValueError(f"`epoch` must be an integer >= 0. Received: epoch={epoch!r}")
        self.epoch, self.epoch_pinned = int(epoch), True

    def permutation(self, epoch: int | None = None) -> np.ndarray:
        """Global order of the epoch (before sharding).

        Returns:
            int64 array ``(N,)``: a permutation of ``0..N-1`` (identity when not shuffling).
        """
        return self._permutation(self.epoch if epoch is None else int(epoch)).copy()

    def _permutation(self, epoch: int) -> np.ndarray:
        """Cached (read-only) epoch order: random access (``get_batch``) reuses it."""
        key = (self.seed, self.shuffle, epoch)
        if self._cache[0] != key:
            order = self._draw(epoch)
            order.setflags(write=False)
            self._cache = (key, order)
        return self._cache[1]

    def _draw(self, epoch: int) -> np.ndarray:
        """The epoch's global order, ``(num_samples_total,)`` int64 (subclasses draw others)."""
        n = self.num_samples_total
        if not self.shuffle:
            return np.arange(n, dtype=np.int64)
        gen = torch_generator(self.seed, epoch)
        return torch.randperm(n, generator=gen).numpy().astype(np.int64, copy=False)

    def local_indices(self, epoch: int | None = None) -> np.ndarray:
        """This rank's share of the epoch (padded as described in the module docstring).

        Returns:
            read-only int64 array ``(len(self),)`` of dataset indices, in reading order.
        """
        perm = self._permutation(self.epoch if epoch is None else int(epoch))
        if self.num_replicas == 1:
            return perm
        total = len(self) * self.num_replicas
        if total > perm.size and perm.size > 0:
            reps = math.ceil((total - perm.size) / perm.size)
            perm = np.concatenate([perm, np.tile(perm, reps)[: total - perm.size]])
        return perm[self.rank:total:self.num_replicas]

    def __len__(self) -> int:
        return math.ceil(self.num_samples_total / self.num_replicas)

    def __iter__(self) -> Iterator[int]:
        return iter(self.local_indices().tolist())


class BatchRequest(NamedTuple):
    """What a worker is asked to load: one batch of one epoch."""

    epoch: int
    batch_number: int
    indices: np.ndarray


class BatchPlan(Sampler[BatchRequest]):
    """Cuts a ``SeededSampler``'s epoch into batches and can start mid-epoch.

    Batch ``k`` of an epoch is ``local_indices(epoch)[k * B : (k + 1) * B]``: the last batch is
    partial unless ``drop_last``; a batch never crosses the epoch boundary (keras-semantics §A6).

    Args:
        sampler: the per-sample order.
        batch_size: ``B``.
        drop_last: drop the final partial batch.
    """

    def __init__(self, sampler: SeededSampler, batch_size: int, drop_last: bool = False) -> None:
        self.sampler, self.batch_size, self.drop_last = sampler, int(batch_size), bool(drop_last)
        self.start_batch = 0

    def __len__(self) -> int:
        n = len(self.sampler)
        if self.batch_size == 0:  # only for an empty dataset (checks.check_batch_size)
            return 0
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def batch(self, batch_number: int, epoch: int | None = None) -> BatchRequest:
        """The request for batch ``batch_number`` of ``epoch`` (default: the sampler's epoch).

        Raises:
            IndexError: ``batch_number`` outside ``[0, len(self))``.
        """
        epoch = self.sampler.epoch if epoch is None else int(epoch)
        if not 0 <= batch_number < len(self):
            raise IndexError(f"batch {batch_number} is out of range for {len(self)} batches")
        local = self.sampler.local_indices(epoch)
        lo = batch_number * self.batch_size
        return BatchRequest(epoch, batch_number, local[lo:lo + self.batch_size])

    def __iter__(self) -> Iterator[BatchRequest]:
        # Bind epoch/start now so that a later set_epoch cannot change a running epoch.
        return self._requests(self.sampler.epoch, self.start_batch)

    def _requests(self, epoch: int, start: int) -> Iterator[BatchRequest]:
        local = self.sampler.local_indices(epoch)
        for k in range(start, len(self)):
            lo = k * self.batch_size
            yield BatchRequest(epoch, k, local[lo:lo + self.batch_size])

"""``make_loader(ds, sampler=...)``: any torch ``Sampler`` (or sized iterable of indices) as
the epoch order, deterministic for the loader's seed.

At the start of each epoch the sampler is iterated once, in the main process, into the
epoch's order (as ``DataLoader`` does), and that order is then sharded, batched and resumed
like a plain epoch (``sampler.py``: DDP padding by the head of the epoch, ``state_dict``). To
make the order a pure function of ``(seed, epoch)`` — the same for any ``num_workers``, on
every rank and when resuming — the draw runs with

* ``sampler.set_epoch(epoch)`` called first when the sampler has one,
* the sampler's ``generator`` attribute (``RandomSampler``, ``WeightedRandomSampler``,
  ``SubsetRandomSampler``) replaced, for the draw only, by
  ``torch_generator(seed, _SAMPLER_TAG, epoch)`` (a generator the caller set is ignored: the
  loader's ``seed`` decides),
* torch's global CPU generator forked and seeded from ``(seed, epoch)`` around the draw, so a
  sampler drawing from it is reproducible too and the caller's global state is left as it was.

A sampler drawing from numpy's or Python's random module is not made deterministic. The epoch
has ``len(sampler)`` positions (``len(loader)`` is exact); a draw of another length, or an index
outside the dataset, is an error. ``shuffle`` has no effect: the sampler decides the order.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DistributedSampler

from .._rng import derive_seed, torch_generator
from .sampler import SeededSampler

_SAMPLER_TAG = 0x5A3B  # counter of the generator handed to the sampler
_GLOBAL_TAG = 0x5A3C  # counter of the forked global generator


def check_user_sampler(sampler: Any, num_replicas: int) -> int:
    """The sampler's length, after checking that it can give the epoch order.

    Raises:
        TypeError: not a sized iterable.
        ValueError: a ``DistributedSampler`` while the loader shards by itself.
    """
    if not (hasattr(sampler, "__iter__") and hasattr(sampler, "__len__")) or isinstance(
            sampler, (str, bytes)):
        raise TypeError("`sampler` must be a torch.utils.data.Sampler (or a sized iterable of "
                        f"dataset indices). Received: sampler={sampler!r}")
    if isinstance(sampler, DistributedSampler) and num_replicas > 1:
        raise ValueError(
            "`sampler` is a DistributedSampler, but make_loader already shards every epoch "
            "over the ranks: pass the un-sharded sampler (or distributed=False). "
            f"Received: sampler={sampler!r}"
        )
    return len(sampler)


class UserSampler(SeededSampler):
    """A ``SeededSampler`` whose epoch order is drawn from the caller's sampler.

    Args:
        sampler: the caller's sampler (see the module docstring).
        dataset_len: ``N``; every drawn index must lie in ``[0, N)``.
        seed, num_replicas, rank: as ``SeededSampler``.
    """

    def __init__(self, sampler: Any, dataset_len: int, *, seed: int | None = None,
                 num_replicas: int = 1, rank: int = 0) -> None:
        self.user_sampler, self.dataset_len = sampler, int(dataset_len)
        super().__init__(check_user_sampler(sampler, num_replicas), shuffle=True, seed=seed,
                         num_replicas=num_replicas, rank=rank)

    def _draw(self, epoch: int) -> np.ndarray:
        sampler = self.user_sampler
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        has_gen = hasattr(sampler, "generator")
        saved = sampler.generator if has_gen else None
        if has_gen:
            sampler.generator = torch_generator(self.seed, _SAMPLER_TAG, epoch)
        try:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(derive_seed(self.seed, _GLOBAL_TAG, epoch))
                drawn = [int(i) for i in sampler]
        finally:
            if has_gen:
                sampler.generator = saved
        order = np.asarray(drawn, dtype=np.int64)
        if order.size != self.num_samples_total:
            raise ValueError(f"`sampler` yielded {order.size} indices in epoch {epoch} but its "
                             f"len() is {self.num_samples_total}.")
        if order.size and (order.min() < 0 or order.max() >= self.dataset_len):
            bad = int(order.min()) if order.min() < 0 else int(order.max())
            raise IndexError(f"`sampler` yielded index {bad}, out of range for a dataset of "
                             f"{self.dataset_len} samples.")
        return order

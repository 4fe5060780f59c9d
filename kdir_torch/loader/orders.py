"""Which sampler orders a ``make_loader`` epoch: plain, balanced or the caller's.

``make_loader(ds)`` shuffles every sample once per epoch (``SeededSampler``);
``max_per_class=`` / ``balance=`` draw balanced epochs (``balanced.py``); ``sampler=`` takes the
caller's sampler (``user_sampler.py``). All three share the sharding, batching and resume rules
of ``sampler.py``, and each epoch is a pure function of ``(seed, epoch)``.
"""

from __future__ import annotations

from typing import Any

from ..datasets.classmap import class_array
from .balanced import BALANCE_MODES, BalancedSampler
from .checks import check_int
from .sampler import SeededSampler
from .user_sampler import UserSampler


def epoch_sampler(dataset: Any, sampler: Any = None, *, shuffle: bool, seed: int | None,
                  num_replicas: int, rank: int, max_per_class: int | None = None,
                  balance: str | None = None) -> SeededSampler:
    """The per-rank sampler of a loader over ``dataset``.

    Args:
        dataset: the loader's dataset (classes are read for balanced epochs).
        sampler: the caller's sampler, or None.
        shuffle: permute every epoch (ignored with ``sampler``).
        seed: the loader seed (None: a fresh one).
        num_replicas, rank: DDP sharding.
        max_per_class: per-class cap per epoch, or None.
        balance: None, "oversample" or "undersample".

    Returns:
        A ``SeededSampler`` (or subclass).

    Raises:
        TypeError / ValueError: bad ``max_per_class``/``balance``/``sampler``, a sampler
            together with balancing, or balancing a dataset without classes.
    """
    cap = check_int("max_per_class", max_per_class, 1, allow_none=True)
    if balance is not None and balance not in BALANCE_MODES:
        raise ValueError(f"`balance` must be one of {(None, *BALANCE_MODES)}. "
                         f"Received: balance={balance!r}")
    balanced = cap is not None or balance is not None
    if sampler is not None:
        if balanced:
            raise ValueError(
                "`sampler` and `max_per_class`/`balance` both choose the samples of an epoch: "
                f"pass one of them. Received: sampler={sampler!r}, max_per_class="
                f"{max_per_class!r}, balance={balance!r}"
            )
        return UserSampler(sampler, len(dataset), seed=seed, num_replicas=num_replicas,
                           rank=rank)
    if balanced:
        classes = class_array(dataset, "make_loader(max_per_class=/balance=)")
        return BalancedSampler(classes, max_per_class=cap, balance=balance, shuffle=shuffle,
                               seed=seed, num_replicas=num_replicas, rank=rank)
    return SeededSampler(len(dataset), shuffle=shuffle, seed=seed,
                         num_replicas=num_replicas, rank=rank)

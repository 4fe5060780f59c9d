"""The dataset view a loader finishes batches with (augment / standardize overrides).

``make_loader(ds, augment=..., standardize=...)`` must not mutate the user's dataset, and must
not re-implement ``finish_batch`` either. It finishes batches with a shallow copy of the
dataset whose ``augment``/``standardize`` attributes are replaced, so the one
``finish_batch`` implementation (float conversion -> augment -> layout -> standardize ->
labels) stays the only one.

The decode workers get another view, ``worker_view``: without the callables that run only in
the main process (``augment`` and ``standardize`` when batches are finished after the
transfer), so that a lambda given to ``make_loader`` is never pickled to a worker and works
under the ``spawn`` and ``forkserver`` start methods.

``augment`` may be an ``Augment``-like object (``make_params(image_hw, indices, *, epoch,
seed)`` + ``apply(x, params)``) or a plain callable
``fn(x, indices, *, epoch, seed) -> x`` on ``(B, C, H, W)`` float batches; the latter is
adapted by ``CallableAugment``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

BatchTransform = Callable[..., torch.Tensor]


@dataclass(frozen=True)
class DeferredParams:
    """Parameters of a ``CallableAugment``: the inputs of the deferred call."""

    indices: torch.Tensor
    epoch: int
    seed: int | None

    def to(self, device: torch.device | str) -> DeferredParams:
        """Same params (indices stay on the CPU: the callable draws from them)."""
        del device
        return self


class CallableAugment:
    """Adapts ``fn(x, indices, *, epoch, seed)`` to the ``make_params``/``apply`` protocol.

    Args:
        fn: batched transform on ``(B, C, H, W)`` float tensors; must be deterministic in
            ``(seed, epoch, indices)`` so that batches equal ``ds[i]``.
        seed: seed handed to ``fn`` when the dataset passes None.
        seeded: whether ``fn`` has a seed of its own; an unseeded one given to
            ``make_loader`` receives the loader's seed. None: ``seed is not None``.
    """

    is_identity = False

    def __init__(self, fn: BatchTransform, seed: int | None = None,
                 seeded: bool | None = None) -> None:
        self.fn, self.seed = fn, seed
        self.seeded = seed is not None if seeded is None else bool(seeded)

    def make_params(self, image_hw: tuple[int, int], indices: torch.Tensor, *, epoch: int = 0,
                    seed: int | None = None) -> DeferredParams:
        """Record the call inputs; nothing is drawn until ``apply``."""
        del image_hw
        return DeferredParams(torch.as_tensor(indices), int(epoch),
                              self.seed if seed is None else seed)

    def apply(self, x: torch.Tensor, params: DeferredParams) -> torch.Tensor:
        """Run ``fn`` on the batch with the recorded indices/epoch/seed."""
        return self.fn(x, params.indices, epoch=params.epoch, seed=params.seed)


def as_augment(augment: Any) -> Any:
    """``augment`` if it speaks ``make_params``/``apply``, else a ``CallableAugment``.

    Raises:
        TypeError: ``augment`` is neither.
    """
    if hasattr(augment, "make_params") and hasattr(augment, "apply"):
        return augment
    if callable(augment):
        return CallableAugment(augment)
    raise TypeError(
        "`augment` must be None, an Augment (make_params/apply) or a callable "
        f"fn(x, indices, *, epoch, seed). Received: augment={augment!r}"
    )


def pipeline_dataset(dataset: Any, augment: Any = None, standardize: Any = None,
                     loader_seed: int | None = None) -> tuple[Any, bool]:
    """The dataset itself, or a shallow copy with ``augment``/``standardize``/``seed`` replaced.

    Args:
        dataset: the user's dataset (left untouched).
        augment: None keeps ``dataset.augment``; otherwise see ``as_augment``.
        standardize: None keeps ``dataset.standardize``; otherwise a callable on the batch.
        loader_seed: the loader's seed, which becomes the augmentation seed when neither the
            augmentation (``seeded`` False) nor the dataset (``seed`` None) has one.

    Returns:
        ``(view, seeded_by_loader)``: an object with the dataset's protocol (``load_raw``,
        ``finish_batch``, ...), and whether its ``seed`` is the loader's.

    Raises:
        TypeError: ``standardize`` is not callable, or ``augment`` is invalid.
    """
    if standardize is not None and not callable(standardize):
        raise TypeError(
            f"`standardize` must be None or a callable. Received: standardize={standardize!r}"
        )
    effective = getattr(dataset, "augment", None) if augment is None else as_augment(augment)
    follow = (loader_seed is not None and effective is not None
              and getattr(effective, "seeded", True) is False
              and getattr(dataset, "seed", None) is None)
    if augment is None and standardize is None and not follow:
        return dataset, False
    view = copy.copy(dataset)
    if augment is not None:
        view.augment = effective
    if standardize is not None:
        view.standardize = standardize
    if follow:
        view.seed = loader_seed
    return view, follow


MAIN_PROCESS_ONLY = ("augment", "standardize")


def worker_view(pipeline: Any, finish_in_worker: bool) -> Any:
    """What the decode workers hold (``BatchFetcher.dataset``, pickled to spawned workers).

    Args:
        pipeline: the view ``pipeline_dataset`` returned (finishes the batches).
        finish_in_worker: the workers run ``finish_batch`` too (``augment_on="worker"``, or a
            dataset with per-sample ``transform``s), so they need every callable.

    Returns:
        ``pipeline`` itself when the workers finish batches or it holds no main-process-only
        callable; else a shallow copy with ``augment`` and ``standardize`` set to None (same
        index, files and shared epoch cell: ``load_raw`` is unchanged).
    """
    if finish_in_worker or all(getattr(pipeline, name, None) is None
                               for name in MAIN_PROCESS_ONLY):
        return pipeline
    view = copy.copy(pipeline)
    for name in MAIN_PROCESS_ONLY:
        if getattr(view, name, None) is not None:
            setattr(view, name, None)
    return view

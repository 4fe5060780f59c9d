"""``BatchedDataset``: what ``image_dataset_from_directory`` returns (keras-semantics §B8).

A finite iterable of batches (one epoch per ``iter()``, ``ceil(N / batch_size)`` batches with a
partial last one, or single elements when ``batch_size`` is None) carrying ``class_names`` and
``file_paths``. With ``shuffle=True`` it yields a new order every epoch, as Keras's
``ds.shuffle`` does, but the order comes from ``torch_generator(seed, epoch)``: TF's
shuffle-buffer order cannot be reproduced outside TF (§B8), so compare shuffled outputs with
Keras's as multisets.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from typing import Any

import torch

from ..datasets.modern import ModernDirDataset
from ..loader import make_loader
from ..loader.factory import DEFAULT_TIMEOUT


class BatchedDataset:
    """What ``image_dataset_from_directory`` returns: finite, re-iterable batches (§B8).

    Each ``iter()`` is one epoch of a ``kt.make_loader`` over the element dataset, so the
    loader's rules hold here too: per-image read ``timeout``, ``on_error``, skip reports
    (``skipped``), workers that persist between epochs.

    Args:
        dataset: the element dataset (exposed as ``.dataset``).
        batch_size: positive batch size, or None for single elements.
        shuffle: reshuffle every epoch (``torch_generator(seed, epoch)`` permutation).
        seed: shuffle seed.
        num_workers: decoding worker processes (0 decodes in the calling process).
        timeout: seconds one image read may take, for any ``num_workers`` (0 = no limit).
        on_error: "raise" or "skip"; None = the element dataset's ``on_error``.

    Attributes:
        class_names: list of class names, or None without labels.
        file_paths: file paths in the (numpy-shuffled, split) Keras order, a ``list`` of
            ``str`` as Keras's; with ``shuffle=True`` this is not the yield order (as Keras).
    """

    def __init__(self, dataset: ModernDirDataset, batch_size: int | None = 32,
                 shuffle: bool = False, seed: int = 0, num_workers: int = 0,
                 timeout: float = DEFAULT_TIMEOUT, on_error: str | None = None) -> None:
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.num_workers = int(num_workers)
        self.timeout, self.on_error = timeout, on_error
        self.epoch = 0
        self._loader: Any = None

    @property
    def class_names(self) -> list[str] | None:
        return self.dataset.class_names

    @functools.cached_property
    def file_paths(self) -> list[str]:
        """Keras's ``file_paths``: a ``list`` of ``str`` (built once from the dataset's
        compact ``StringTable``, in this process only)."""
        return self.dataset.file_paths.tolist()

    @property
    def skipped(self) -> list[tuple[int, str]]:
        """``(index, path)`` of the samples skipped in the last epoch (``on_error="skip"``)."""
        return [] if self._loader is None else self._loader.skipped

    def __len__(self) -> int:
        n = len(self.dataset)
        return n if self.batch_size is None else math.ceil(n / self.batch_size)

    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose order the next ``iter()`` yields."""
        self.epoch = int(epoch)

    def order(self, epoch: int) -> torch.Tensor:
        """Element order of ``epoch``: ``(N,)`` int64 (a permutation when shuffling)."""
        return torch.from_numpy(self._get_loader().sampler.permutation(epoch))

    def _get_loader(self) -> Any:
        """The loader of the next epoch; a new one while the last is still being iterated."""
        if self._loader is None or self._loader.running:
            self._loader = make_loader(
                self.dataset, batch_size=self.batch_size or 1, shuffle=self.shuffle,
                seed=self.seed, num_workers=self.num_workers, timeout=self.timeout,
                on_error=self.on_error)
        return self._loader

    def __iter__(self) -> Iterator[Any]:
        loader = self._get_loader()
        loader.set_epoch(self.epoch)
        self.epoch += 1
        if self.batch_size is None:
            return _elements(iter(loader))
        return iter(loader)

    def __repr__(self) -> str:
        return (f"BatchedDataset(batches={len(self)}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, dataset={self.dataset!r})")


def _elements(batches: Iterator[Any]) -> Iterator[Any]:
    """Single elements out of batches of one."""
    for batch in batches:
        yield tuple(t[0] for t in batch) if isinstance(batch, tuple) else batch[0]

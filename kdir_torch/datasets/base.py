"""The dataset protocol shared by the legacy and modern datasets (and driven by ``make_loader``).

``load_raw(i)`` decodes one sample; ``finish_batch(raw, indices)`` turns a stack of them into
what ``ds[i]`` returns, on ``raw``'s device; ``ds[i]`` is exactly ``finish_batch`` of one
sample, so the simple path and the loader's batched path cannot disagree.

torchvision habits: ``transform`` / ``target_transform`` (any callables, torchvision v2
transforms included) run per sample on what ``finish_batch`` produced (after Keras's loading,
``augment`` and ``standardize``): ``ds[i]`` applies them, and ``transform_samples`` applies
them to each sample of a finished batch, which is what ``make_loader`` does in its workers.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from ..cache import cache_view
from .classmap import ClassMapMixin


def convert(raw: torch.Tensor, dtype: torch.dtype,
            empty: Callable[..., torch.Tensor] = torch.empty) -> torch.Tensor:
    """``raw.to(dtype)`` written into ``empty(raw.shape, dtype=, device=)``.

    A CPU conversion to float32/float64 runs in numpy, on one thread (the same values as
    torch's cast: every uint8/int32 pixel is converted exactly or rounded to nearest): the
    loader's workers already keep every core busy, and torch's parallel copy would add its
    OpenMP threads' spin-waiting on top.
    """
    out = empty(raw.shape, dtype=dtype, device=raw.device)
    if out.device.type == "cpu" and dtype in (torch.float32, torch.float64) \
            and raw.dtype in (torch.uint8, torch.int32):
        np.copyto(out.numpy(), raw.numpy(), casting="unsafe")
    else:
        out.copy_(raw)
    return out


_CELLS = 1024
_cells: dict[str, Any] = {"pid": None, "block": None, "next": _CELLS}
_cells_lock = threading.Lock()


def shared_cell() -> torch.Tensor:
    """A ``(1,)`` int64 tensor in shared memory, seen by forked and spawned workers alike.

    Cells are views into blocks of ``_CELLS`` (one shared-memory segment, so one file
    descriptor, per block rather than per dataset); each process allocates from its own
    blocks.
    """
    with _cells_lock:
        if _cells["pid"] != os.getpid() or _cells["next"] == _CELLS:
            block = torch.zeros(_CELLS, dtype=torch.int64).share_memory_()
            _cells.update(pid=os.getpid(), block=block, next=0)
        k = _cells["next"]
        _cells["next"] = k + 1
        return _cells["block"][k:k + 1]


def unbatch(out: Any) -> Any:
    """Sample 0 of a finished batch: every tensor / array indexed, tuples and lists kept
    (``(x, y)``, ``(x, y, w)``, ``[x, *misc]``, multi-output label lists)."""
    if isinstance(out, (tuple, list)):
        return type(out)(unbatch(o) for o in out)
    return out[0]


class DirDataset(ClassMapMixin, Dataset):
    """Base class: augmentation, layout, standardization and ``__getitem__`` for subclasses.

    Subclasses set ``augment``, ``standardize``, ``seed``, ``data_format`` and implement
    ``load_raw``, ``_to_float`` (dtype conversion before augmentation) and ``_labels``.
    ``ClassMapMixin`` adds ``decode_predictions`` and ``save_class_indices``.
    """

    augment: Any = None
    standardize: Callable[[torch.Tensor], torch.Tensor] | None = None
    transform: Callable[[Any], Any] | None = None
    target_transform: Callable[[Any], Any] | None = None
    seed: int | None = None
    data_format: str = "channels_first"

    @property
    def has_transforms(self) -> bool:
        """Whether ``transform`` or ``target_transform`` is set (per-sample callables)."""
        return self.transform is not None or self.target_transform is not None

    def transform_sample(self, sample: Any) -> Any:
        """``transform`` on the image and ``target_transform`` on the label of one sample.

        Args:
            sample: ``(x, y)``, ``(x, y, w)`` or ``x`` (no labels), as ``finish_batch`` gives
                one sample.

        Returns:
            The same structure with each callable applied (None callables change nothing;
            a weight is kept as it is).
        """
        if isinstance(sample, tuple):
            x, y, *rest = sample
            x = x if self.transform is None else self.transform(x)
            y = y if self.target_transform is None else self.target_transform(y)
            return (x, y, *rest)
        return sample if self.transform is None else self.transform(sample)

    def transform_samples(self, batch: Any) -> Any:
        """``transform_sample`` on every sample of a finished batch, collated again.

        Args:
            batch: ``finish_batch`` output ``(x, y)`` or ``x`` with ``B >= 1`` samples.

        Returns:
            ``default_collate`` of the transformed samples (tensors stacked, numbers made
            tensors), or ``batch`` itself without transforms.
        """
        if not self.has_transforms:
            return batch
        if isinstance(batch, tuple):
            samples = [self.transform_sample(tuple(s)) for s in zip(*batch)]
        else:
            samples = [self.transform_sample(x) for x in batch]
        out = default_collate(samples)
        return tuple(out) if isinstance(batch, tuple) else out

    @property
    def epoch(self) -> int:
        """The epoch whose augmentation draws ``ds[i]`` uses (see ``set_epoch``)."""
        cell = self.__dict__.get("_epoch_cell")
        return 0 if cell is None else int(cell[0])

    @epoch.setter
    def epoch(self, value: int) -> None:
        cell = self.__dict__.get("_epoch_cell")
        if cell is None:
            cell = self._epoch_cell = shared_cell()
        cell[0] = int(value)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose augmentation parameters ``ds[i]`` uses.

        The epoch lives in shared memory, so a plain ``torch.utils.data.DataLoader`` over this
        dataset sees it in every worker, persistent or not, fork or spawn: call
        ``ds.set_epoch(e)`` before each epoch's ``for`` loop (the ``DistributedSampler``
        habit). ``kt.make_loader`` advances the epoch by itself.
        """
        self.epoch = int(epoch)

    def fill_cache(self, num_workers: int | None = None, verbose: bool = True) -> int:
        """Decode and cache, up front, every sample not cached yet (``cache=`` datasets).

        Without this call the cache fills lazily during the first epoch. See
        ``kdir_torch.cache.fill``.

        Args:
            num_workers: decoding processes (None: one per available core; 0: inline).
            verbose: progress bar (shown when filling takes over a second).

        Returns:
            The number of samples decoded.

        Raises:
            ValueError: the dataset was built without ``cache``.
            ImageDecodeError: a bad file under ``on_error="raise"`` (``"skip"`` warns).
        """
        from ..cache.fill import fill_cache

        return fill_cache(self, num_workers, verbose)

    def cache_info(self) -> Any:
        """``kdir_torch.cache.CacheInfo`` (kind, samples, slots, filled, slot_bytes, path),
        or None without a cache."""
        view = cache_view(self)
        return None if view is None else view.store.info()

    def load_raw(self, i: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def _to_float(self, raw: torch.Tensor, augmenting: bool,
                  empty: Callable[..., torch.Tensor]) -> torch.Tensor:  # pragma: no cover
        """The batch in the dtype the pipeline continues with, allocated by ``empty``.

        ``raw`` is ``(B, C, H, W)``, or a ``(B, H, W, C)`` view when not augmenting (then the
        result may be that view itself; ``finish_batch`` makes it contiguous).
        """
        raise NotImplementedError

    def _labels(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor | None:  # pragma: no cover
        raise NotImplementedError

    def finish_batch(self, raw: torch.Tensor, indices: torch.Tensor, *, epoch: int | None = None,
                     augment: bool = True, standardize: bool = True,
                     empty: Callable[..., torch.Tensor] = torch.empty) -> Any:
        """Turn decoded samples into what ``ds[i]`` returns, batched, on ``raw``'s device.

        Args:
            raw: ``(B, C, H, W)`` stacked ``load_raw`` outputs.
            indices: ``(B,)`` int64 dataset indices of those samples (any device).
            epoch: augmentation epoch (default: ``self.epoch``).
            augment: apply ``self.augment`` (params drawn from ``(seed, epoch, indices)``).
            standardize: apply ``self.standardize`` (after the layout change).
            empty: allocates the float batch, as ``torch.empty(shape, dtype=, device=)``
                (the loader passes a pool of reused buffers).

        Returns:
            ``(x, y)`` or ``x`` (no labels): x ``(B, C, H, W)``, or ``(B, H, W, C)`` for
            channels_last; y as the subclass encodes it.
        """
        indices = torch.as_tensor(indices).cpu()
        augmenting = augment and self.augment is not None
        channels_last = self.data_format == "channels_last"
        if augmenting:
            x = self._to_float(raw, augmenting, empty)
            params = self.augment.make_params(
                tuple(x.shape[-2:]), indices, epoch=self.epoch if epoch is None else epoch,
                seed=self.seed,
            )
            x = self.augment.apply(x, params.to(x.device))
            x = x.permute(0, 2, 3, 1) if channels_last else x
        else:  # the layout change rides on the dtype conversion: one pass over the batch
            x = self._to_float(raw.permute(0, 2, 3, 1) if channels_last else raw, False, empty)
        if not x.is_contiguous():
            x = empty(x.shape, dtype=x.dtype, device=x.device).copy_(x)
        if standardize and self.standardize is not None:
            x = self.standardize(x)
        y = self._labels(x, indices)
        return x if y is None else (x, y)

    def __getitem__(self, i: int) -> Any:
        """Sample ``i``: ``finish_batch`` of that one sample, then ``transform_sample``."""
        n = len(self)
        if not -n <= int(i) < n:
            raise IndexError(f"index {i} is out of range for a dataset of {n} samples")
        i = int(i) % n
        sample = unbatch(self.finish_batch(self.load_raw(i)[None], torch.tensor([i])))
        return self.transform_sample(sample) if self.has_transforms else sample

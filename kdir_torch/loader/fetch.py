"""Worker side of the loader: decode one batch to uint8 and collate it.

A ``BatchFetcher`` is the map-style dataset the ``torch.utils.data.DataLoader`` sees: its items
are whole batches, keyed by a ``BatchRequest``. Each worker decodes the batch's files with
``dataset.load_raw`` into one ``(B, C, H, W)`` uint8 tensor (4x fewer bytes than float32 to
pin and copy): a slot of the loader's ``SharedSlots`` ring when it has one (persistent
workers, fixed image shape; see ``buffers.py``), else a new shared-memory tensor. With
``augment_on="worker"`` the fetcher also runs ``dataset.finish_batch`` there, so a CPU-only
run does the float work in parallel too.

Bad files: an ``ImageDecodeError`` is caught and shipped to the main process inside the batch
(the DataLoader's own re-raise would lose ``.path``/``.index``); with the dataset's
``on_error="skip"`` the sample is dropped instead and reported in ``FetchedBatch.skipped``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..errors import ImageDecodeError
from .buffers import SharedSlots
from .sampler import BatchRequest


@dataclass
class FetchedBatch:
    """One collated batch as it leaves a worker.

    Attributes:
        payload: ``(raw,)`` with raw ``(B, C, H, W)`` uint8/int32 when finishing happens after
            transfer; ``(x, y)`` or ``(x,)`` already finished when ``augment_on="worker"``.
        indices: ``(B,)`` int64 numpy array of the dataset indices of the samples actually in
            the batch (numpy: pickled by value, where a tensor would cost a shared-memory
            segment per batch).
        epoch: the epoch the batch belongs to.
        batch_number: position of the batch in its epoch (counts skipped-out batches too).
        finished: True when ``payload`` is already ``finish_batch`` output.
        skipped: ``(index, path)`` of samples dropped under ``on_error="skip"``.
        error: an ``ImageDecodeError`` to re-raise in the main process, or None.
        slot: the ``SharedSlots`` slot holding the raw batch (then ``payload`` is empty).
    """

    payload: tuple[torch.Tensor, ...]
    indices: np.ndarray
    epoch: int
    batch_number: int
    finished: bool = False
    skipped: list[tuple[int, str]] = field(default_factory=list)
    error: ImageDecodeError | None = None
    slot: int | None = None

    def pin_memory(self) -> FetchedBatch:
        """Copy with page-locked tensors (called by the DataLoader's pin-memory thread)."""
        return replace(self, payload=tuple(t.pin_memory() for t in self.payload))


def _stack(images: list[torch.Tensor]) -> torch.Tensor:
    """Stack decoded images; inside a worker, straight into shared memory (as PyTorch's
    ``default_collate`` does), saving the copy the pickler would otherwise make."""
    if not images:
        return torch.empty(0, dtype=torch.uint8)
    if torch.utils.data.get_worker_info() is None:
        return torch.stack(images)
    first = images[0]
    storage = first._typed_storage()._new_shared(len(images) * first.numel(), device=first.device)
    out = first.new(storage).resize_(len(images), *first.shape)
    return torch.stack(images, out=out)


def _as_tuple(out: Any) -> tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, tuple) else (out,)


class BatchFetcher(torch.utils.data.Dataset):
    """Map-style dataset whose items are decoded batches.

    Args:
        dataset: object with ``load_raw(i) -> (C, H, W)`` tensor, ``finish_batch`` and
            ``on_error`` (``"raise"``/``"skip"``; missing means ``"raise"``).
        finish_in_worker: also run ``dataset.finish_batch`` (``augment_on="worker"``).
        slots: shared ring that workers decode raw batches into (see ``buffers.py``).
    """

    def __init__(self, dataset: Any, finish_in_worker: bool = False,
                 slots: SharedSlots | None = None) -> None:
        self.dataset = dataset
        self.finish_in_worker = finish_in_worker
        self.slots = slots
        self.skip = getattr(dataset, "on_error", "raise") == "skip"

    def __getitem__(self, request: BatchRequest) -> FetchedBatch:
        """Decode ``request.indices`` (KERAS_SPEC §A7 step 2a, batched).

        Returns:
            A ``FetchedBatch``; never raises ``ImageDecodeError`` (it travels in ``.error``).
        """
        epoch, number, indices = request
        images, kept, skipped = [], [], []
        for i in indices.tolist():
            try:
                images.append(self.dataset.load_raw(i))
            except ImageDecodeError as exc:
                if not self.skip:
                    return FetchedBatch((), np.empty(0, np.int64), epoch, number, error=exc)
                skipped.append((i, str(exc.path)))
                continue
            kept.append(i)
        idx = np.array(kept, dtype=np.int64)
        slots = self.slots
        if slots is not None and torch.utils.data.get_worker_info() is not None \
                and slots.fits(images):
            slot = slots.index(number)
            dst = slots.view(slot, len(images)).numpy()
            for k, image in enumerate(images):  # numpy: the fastest strided copy on one thread
                dst[k] = image.numpy()
            return FetchedBatch((), idx, epoch, number, skipped=skipped, slot=slot)
        raw = _stack(images)
        if not self.finish_in_worker or not kept:
            return FetchedBatch((raw,), idx, epoch, number, skipped=skipped)
        out = self.dataset.finish_batch(raw, torch.from_numpy(idx), epoch=epoch)
        return FetchedBatch(_as_tuple(out), idx, epoch, number, finished=True, skipped=skipped)

    def __len__(self) -> int:
        return len(self.dataset)


def no_collate(batch: FetchedBatch) -> FetchedBatch:
    """Identity ``collate_fn`` (the fetcher already collated); module-level so it pickles."""
    return batch


def worker_init(worker_id: int) -> None:
    """One intra-op thread per worker: parallelism comes from the workers themselves."""
    del worker_id
    torch.set_num_threads(1)

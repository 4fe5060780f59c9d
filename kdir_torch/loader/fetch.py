"""Worker side of the loader: decode one batch to uint8 and collate it.

A ``BatchFetcher`` is the map-style dataset the ``torch.utils.data.DataLoader`` sees: its items
are whole batches, keyed by a ``BatchRequest``. Each worker decodes the batch's files with
``dataset.load_raw`` into one ``(B, C, H, W)`` uint8 tensor (4x fewer bytes than float32 to
pin and copy): a slot of the loader's ``SharedSlots`` ring when it has one (persistent
workers, fixed image shape; see ``buffers.py``), else a new shared-memory tensor. With
``augment_on="worker"`` the fetcher also runs ``dataset.finish_batch`` there, so a CPU-only
run does the float work in parallel too; so it does for a dataset with per-sample
``transform`` / ``target_transform`` (then applied to each sample of the finished batch,
``DirDataset.transform_samples``, the same callables ``ds[i]`` applies).

Bad files: an ``ImageDecodeError`` (a decode failure, a non-regular file, or a read slower
than ``timeout``: see ``reading.py``) is caught and shipped to the main process inside the
batch (the DataLoader's own re-raise would lose ``.path``/``.index``); under
``on_error="skip"`` (the loader's, else the dataset's) the sample is dropped instead and
reported in ``FetchedBatch.skipped``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from ..errors import ImageDecodeError
from .buffers import SharedSlots
from .prefetch import map_tensors
from .reading import DeadlineReader, sample_path
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
        error: an ``ImageDecodeError`` (or the ``ValueError`` of a batch whose images differ
            in size) to re-raise in the main process, or None.
        slot: the ``SharedSlots`` slot holding the raw batch (then ``payload`` is empty).
        encoded: with ``decode_on="device"``, the batch's JPEG bytes and host-decoded
            samples (``byte_reader.EncodedBatch``; then ``payload`` is empty).
    """

    payload: tuple[torch.Tensor, ...]
    indices: np.ndarray
    epoch: int
    batch_number: int
    finished: bool = False
    skipped: list[tuple[int, str]] = field(default_factory=list)
    error: Exception | None = None
    slot: int | None = None
    encoded: Any = None

    def pin_memory(self) -> FetchedBatch:
        """Copy with page-locked tensors (called by the DataLoader's pin-memory thread)."""
        return replace(self, payload=map_tensors(torch.Tensor.pin_memory, self.payload))


def _check_stackable(images: list[torch.Tensor], kept: list[int],
                     describe: Any) -> ValueError | None:
    """An error naming two samples of different shapes, or None when the batch stacks."""
    for k, image in enumerate(images[1:], 1):
        if image.shape != images[0].shape:
            return ValueError(
                f"Cannot stack sample {kept[k]} ({describe(kept[k])!r}, shape "
                f"{tuple(image.shape)}) with sample {kept[0]} ({describe(kept[0])!r}, shape "
                f"{tuple(images[0].shape)}) into one batch: images of a batch must share one "
                "size. Pass a fixed `target_size` (`image_size` in the modern API) or "
                "batch_size=1."
            )
    return None


def _stack(images: list[torch.Tensor]) -> torch.Tensor:
    """Stack decoded images in the widest dtype among them (a tree may mix 8-bit and 16-bit
    files); inside a worker, straight into shared memory (as PyTorch's ``default_collate``
    does), saving the copy the pickler would otherwise make."""
    if not images:
        return torch.empty(0, dtype=torch.uint8)
    dtype = functools.reduce(torch.promote_types, {t.dtype for t in images})
    if torch.utils.data.get_worker_info() is None:
        return torch.stack([t.to(dtype) for t in images])
    proto = torch.empty(0, dtype=dtype)
    storage = proto._typed_storage()._new_shared(len(images) * images[0].numel())
    out = proto.new(storage).resize_(len(images), *images[0].shape)
    return torch.stack(images, out=out)


def _as_tuple(out: Any) -> tuple[torch.Tensor, ...]:
    return tuple(out) if isinstance(out, tuple) else (out,)


class BatchFetcher(torch.utils.data.Dataset):
    """Map-style dataset whose items are decoded batches.

    Args:
        dataset: object with ``load_raw(i) -> (C, H, W)`` tensor, ``finish_batch`` and
            ``on_error`` (``"raise"``/``"skip"``; missing means ``"raise"``).
        finish_in_worker: also run ``dataset.finish_batch`` (``augment_on="worker"``), then
            the dataset's per-sample transforms when it has any.
        slots: shared ring that workers decode raw batches into (see ``buffers.py``).
        on_error: overrides ``dataset.on_error`` when given.
        timeout: seconds one ``load_raw`` call may take (0 = no limit; see ``reading.py``).
        byte_reader: reads samples instead of ``dataset.load_raw`` and packs each batch
            (``decode_on="device"``: a ``byte_reader.ByteReader``; batches stay encoded).
    """

    def __init__(self, dataset: Any, finish_in_worker: bool = False,
                 slots: SharedSlots | None = None, on_error: str | None = None,
                 timeout: float = 0.0, byte_reader: Any = None) -> None:
        self.dataset = dataset
        self.finish_in_worker = finish_in_worker
        self.slots = slots
        self.skip = (on_error or getattr(dataset, "on_error", "raise")) == "skip"
        self.byte_reader = byte_reader
        self.reader = DeadlineReader(byte_reader or dataset.load_raw, timeout,
                                     functools.partial(sample_path, dataset))

    def __getitem__(self, request: BatchRequest) -> FetchedBatch:
        """Decode ``request.indices`` (keras-semantics §A7 step 2a, batched).

        Returns:
            A ``FetchedBatch``; bad files and unstackable batches never raise here (the
            error travels in ``.error``, keeping its ``.path``/``.index`` across processes).
        """
        epoch, number, indices = request
        wanted = indices.tolist()
        images, kept, skipped = [], [], []
        for i, result in zip(wanted, self.reader.read(wanted, stop_on_error=not self.skip)):
            if isinstance(result, ImageDecodeError) and self.skip:
                skipped.append((i, str(result.path)))
            elif isinstance(result, ImageDecodeError):
                return FetchedBatch((), np.empty(0, np.int64), epoch, number, error=result)
            elif isinstance(result, BaseException):
                raise result  # not a file problem: a bug, with its own traceback
            else:
                images.append(result)
                kept.append(i)
        if self.byte_reader is not None:  # decoded, checked and stacked after the transfer
            return FetchedBatch((), np.array(kept, dtype=np.int64), epoch, number,
                                skipped=skipped, encoded=self.byte_reader.pack(images))
        error = _check_stackable(images, kept, self.reader.describe)
        if error is not None:
            return FetchedBatch((), np.empty(0, np.int64), epoch, number, error=error)
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
        if getattr(self.dataset, "has_transforms", False):
            out = self.dataset.transform_samples(out)
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

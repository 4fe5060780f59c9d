"""Memory the loader reuses from batch to batch instead of allocating it afresh.

Freshly allocated batch-sized memory costs a page fault per 4 KiB page the first time it is
written, which on a 2-core machine costs as much as the copy itself; the ring and the pool
below let a plain CPU epoch touch new pages only while they fill up.

``SharedSlots``: a ring of shared-memory uint8 batches created before the workers start. A
worker decodes batch ``k`` into slot ``k % count`` and returns only the slot number, so no
shared-memory segment is created, sent or mapped per batch. The ring is safe because a
``DataLoader`` keeps at most ``prefetch_factor * num_workers`` batches requested but not yet
returned, and the loader is done with a slot before it asks for the next batch (a CPU target
has converted it; a CUDA target has copied it into pinned memory, or to the device from
pageable memory, and both copies return only once the slot is read): with
``count = prefetch_factor * num_workers + 1``, slot ``k % count`` is next requested for batch
``k + count``, which is only sent after batch ``k + 1`` is returned.

``BufferPool``: ``empty(shape, dtype)`` hands out CPU tensors backed by numpy arrays it keeps.
A tensor made by ``torch.from_numpy`` keeps its array alive, and so does every view, storage
or ``.numpy()`` of it, so an array whose reference count is back to the pool's own
references is provably unused and is handed out again. Batches a caller keeps are never
overwritten; when every pooled buffer is held, ``empty`` allocates a new, unpooled tensor.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch

_NP_DTYPES = {torch.float32: np.float32, torch.float64: np.float64, torch.float16: np.float16,
              torch.uint8: np.uint8, torch.int32: np.int32, torch.int64: np.int64}


def raw_shape(dataset: Any) -> tuple[int, int, int] | None:
    """``(C, H, W)`` of every ``load_raw`` output, or None when the size varies or is unknown."""
    shape = getattr(dataset, "image_shape", None)
    if shape is None or None in shape:
        return None
    if getattr(dataset, "data_format", "channels_first") == "channels_last":
        return (shape[2], shape[0], shape[1])
    return tuple(shape)


class SharedSlots:
    """``count`` shared-memory uint8 batches of ``batch_size`` samples of shape ``(C, H, W)``.

    Args:
        count: number of slots (more than the batches a ``DataLoader`` keeps in flight).
        batch_size: samples per slot.
        shape: ``(C, H, W)`` of one ``load_raw`` output.
        channels_last: store the pixels ``(H, W, C)``, the layout a channels_last dataset
            delivers (slots are still indexed ``(B, C, H, W)``).
    """

    def __init__(self, count: int, batch_size: int, shape: tuple[int, int, int],
                 channels_last: bool = False) -> None:
        c, h, w = shape
        stored = (h, w, c) if channels_last else (c, h, w)
        buffers = torch.empty((count, batch_size, *stored), dtype=torch.uint8).share_memory_()
        self.buffers = buffers.permute(0, 1, 4, 2, 3) if channels_last else buffers

    def fits(self, images: list[torch.Tensor]) -> bool:
        """Whether ``images`` can be stacked into one slot."""
        slot = self.buffers.shape[1:]
        return 0 < len(images) <= slot[0] and all(
            t.dtype == torch.uint8 and t.shape == slot[1:] for t in images)

    def index(self, batch_number: int) -> int:
        """The slot batch ``batch_number`` of an epoch is decoded into."""
        return batch_number % len(self.buffers)

    def view(self, index: int, size: int) -> torch.Tensor:
        """The first ``size`` samples of slot ``index``."""
        return self.buffers[index, :size]

    def holds(self, tensor: torch.Tensor) -> bool:
        """Whether ``tensor`` shares the ring's memory (and must be copied before it leaves)."""
        return tensor.untyped_storage().data_ptr() == self.buffers.untyped_storage().data_ptr()


class BufferPool:
    """Reusable CPU tensors for batch outputs (see the module docstring).

    Args:
        per_shape: buffers kept per ``(shape, dtype)``; a caller holding more batches than
            this gets freshly allocated ones.
    """

    def __init__(self, per_shape: int = 4) -> None:
        self.per_shape = per_shape
        self._arrays: dict[tuple[tuple[int, ...], torch.dtype], list[np.ndarray]] = {}
        self._idle_refs: int | None = None

    def empty(self, shape: tuple[int, ...], dtype: torch.dtype = torch.float32,
              device: torch.device | str | None = None) -> torch.Tensor:
        """An uninitialised tensor like ``torch.empty(shape, dtype=dtype, device=device)``."""
        shape = tuple(int(s) for s in shape)
        if (device is not None and torch.device(device).type != "cpu") or dtype not in _NP_DTYPES:
            return torch.empty(shape, dtype=dtype, device=device)
        arrays = self._arrays.setdefault((shape, dtype), [])
        for k in range(len(arrays)):
            if self._refs(arrays, k) == self._idle_refs:
                return torch.from_numpy(arrays[k])
        if len(arrays) >= self.per_shape:
            return torch.empty(shape, dtype=dtype)
        arrays.append(np.empty(shape, _NP_DTYPES[dtype]))
        if self._idle_refs is None:
            self._idle_refs = self._refs(arrays, len(arrays) - 1)
        return torch.from_numpy(arrays[-1])

    @staticmethod
    def _refs(arrays: list[np.ndarray], k: int) -> int:
        # One helper for both the baseline and the check, so both count the same references.
        return sys.getrefcount(arrays[k])

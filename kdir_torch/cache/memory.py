"""``cache="memory"``: decoded pixels in one shared-memory block seen by every worker.

The block (and the flags) are allocated in the process that builds the dataset, with
PyTorch's shared memory (``/dev/shm``; committed at once, so a block that does not fit fails
here, with a clear error, rather than as a ``SIGBUS`` in a worker). Forked workers inherit it;
spawned / forkserver workers receive it by handle: the store registers a reducer with
``multiprocessing``'s ``ForkingPickler`` that passes the two tensors (PyTorch shares their
storage), so every ``DataLoader`` worker, ``kt.make_loader``'s or a plain one, fills and reads
the same single copy. A plain ``pickle`` / ``copy.deepcopy`` of the dataset gets a new, empty
block instead of serialising the pixels.
"""

from __future__ import annotations

from multiprocessing.reduction import ForkingPickler
from typing import Any

import numpy as np
import torch

from .store import SlotSpec, SlotStore


def _shared_empty(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """An uninitialised tensor whose storage is shared memory from the start (no copy)."""
    proto = torch.empty(0, dtype=dtype)
    numel = int(np.prod(shape)) if shape else 1
    storage = proto._typed_storage()._new_shared(max(numel, 1))
    return proto.new(storage)[:numel].view(shape)


class MemoryStore(SlotStore):
    """``slots`` rows of pixels and their flags in shared memory.

    Args:
        spec: what a slot holds.
        samples: samples of the dataset.
        slots: rows to allocate (``<= samples``, what ``cache_bytes`` allows).

    Raises:
        MemoryError: the shared memory cannot be allocated (names the size and the way out).
    """

    kind = "memory"

    def __init__(self, spec: SlotSpec, samples: int, slots: int,
                 tensors: tuple[torch.Tensor, torch.Tensor] | None = None) -> None:
        super().__init__(spec, samples, slots)
        if tensors is None:
            try:
                tensors = (_shared_empty((self.slots, *spec.row_shape), spec.dtype),
                           torch.zeros(max(self.slots, 1), dtype=torch.uint8).share_memory_())
            except RuntimeError as exc:
                raise MemoryError(
                    f"cache='memory' could not allocate {self.slots * spec.slot_bytes} bytes "
                    f"of shared memory for {self.slots} samples ({exc}). Pass a smaller "
                    "`cache_bytes`, or use cache='disk' with a `cache_dir`."
                ) from None
        self.tensors = tensors
        self._arrays: tuple[np.ndarray, np.ndarray] | None = None

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._arrays is None:
            pixels, flags = self.tensors
            self._arrays = (pixels.numpy(), flags.numpy()[: self.slots])
        return self._arrays

    def __reduce__(self) -> tuple[Any, ...]:
        """Plain pickle / deepcopy: a new empty block of the same size (not the pixels)."""
        return (MemoryStore, (self.spec, self.samples, self.slots))


def _rebuild(spec: SlotSpec, samples: int, slots: int,
             tensors: tuple[torch.Tensor, torch.Tensor]) -> MemoryStore:
    return MemoryStore(spec, samples, slots, tensors)


def _share(store: MemoryStore) -> tuple[Any, ...]:
    """``ForkingPickler`` (worker start-up): the same shared tensors, passed by handle."""
    return (_rebuild, (store.spec, store.samples, store.slots, store.tensors))


ForkingPickler.register(MemoryStore, _share)

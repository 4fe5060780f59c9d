"""Fixed-size slots of decoded pixels plus one "filled" flag per slot (both cache kinds).

A store holds ``slots`` rows of ``SlotSpec.shape`` pixels and a ``uint8`` flag per row:
``EMPTY`` (never decoded), ``FILLED`` (the row holds exactly what ``load_raw`` returned) or
``UNCACHEABLE`` (that sample decoded to another dtype or shape than the slot's, e.g. a 16-bit
grayscale file of a legacy dataset: it is decoded every time). A filler writes the pixels
first and the flag after them, so a reader that sees ``FILLED`` reads finished pixels (stores
are seen in program order on x86-64; two processes filling one slot write the same bytes).
A failed decode raises before anything is written: errors are never cached, the file is
retried (and raises or is skipped again) every epoch.

``CacheView`` is what a dataset holds: the store plus, for a part of a dataset (``kt.split``,
``Subset``), the parent's index of each of its samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch

EMPTY, FILLED, UNCACHEABLE = 0, 1, 2


@dataclass(frozen=True)
class SlotSpec:
    """What one slot holds.

    Attributes:
        shape: ``(C, H, W)`` of the ``load_raw`` output.
        dtype: its dtype (``torch.uint8``, or ``torch.float32`` for a modern dataset
            resized with a non-``nearest`` method).
        hwc: store rows as ``(H, W, C)`` and return a ``(C, H, W)`` view of them (the
            strides a channels_last legacy ``load_raw`` returns).
    """

    shape: tuple[int, int, int]
    dtype: torch.dtype

    hwc: bool = False

    @property
    def row_shape(self) -> tuple[int, int, int]:
        """Shape of one stored row: ``(H, W, C)`` when ``hwc``, else ``(C, H, W)``."""
        c, h, w = self.shape
        return (h, w, c) if self.hwc else (c, h, w)

    @property
    def numpy_dtype(self) -> np.dtype:
        return torch.empty(0, dtype=self.dtype).numpy().dtype

    @property
    def slot_bytes(self) -> int:
        """Bytes of one slot's pixels."""
        return int(np.prod(self.shape)) * self.numpy_dtype.itemsize


class CacheInfo(NamedTuple):
    """State of a dataset's decoded cache (``ds.cache_info()``).

    Attributes:
        kind: "memory" or "disk".
        samples: samples of the dataset the cache was built for.
        slots: samples this session may fill (the first ``slots`` by index, ``cache_bytes``).
        filled: samples whose pixels are cached now.
        slot_bytes: bytes of one sample's pixels.
        path: the pixel file (disk), or None (memory).
    """

    kind: str
    samples: int
    slots: int
    filled: int
    slot_bytes: int
    path: str | None


class SlotStore:
    """Base of ``MemoryStore`` and ``DiskStore``: subclasses provide ``arrays()``.

    ``arrays()`` returns ``(pixels, flags)`` numpy views for this process: pixels
    ``(rows, *spec.row_shape)``, flags ``(rows,)`` uint8, with ``rows >= slots`` (a disk
    file has a row for every sample; only the first ``slots`` are filled by this session).
    """

    kind = ""
    path: str | None = None

    def __init__(self, spec: SlotSpec, samples: int, slots: int) -> None:
        self.spec, self.samples, self.slots = spec, int(samples), int(slots)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:  # pragma: no cover - abstract
        raise NotImplementedError

    def load(self, slot: int, decode: Callable[[int], torch.Tensor], i: int) -> torch.Tensor:
        """The pixels of ``slot``: a copy of the cached row, or ``decode(i)`` (then cached).

        Args:
            slot: row of this store (the sample's index in the dataset the cache was built
                for).
            decode: the dataset's uncached ``load_raw`` (bound); may raise.
            i: the index to pass to ``decode``.

        Returns:
            ``(C, H, W)`` tensor equal, bit for bit and in dtype, to ``decode(i)``.
        """
        pixels, flags = self.arrays()
        state = flags[slot] if slot < len(flags) else UNCACHEABLE
        if state == FILLED:
            out = torch.from_numpy(np.array(pixels[slot]))
            return out.permute(2, 0, 1) if self.spec.hwc else out
        out = decode(i)
        if state == EMPTY and slot < self.slots:
            if out.dtype != self.spec.dtype or tuple(out.shape) != self.spec.shape:
                flags[slot] = UNCACHEABLE
            else:
                pixels[slot] = (out.permute(1, 2, 0) if self.spec.hwc else out).numpy()
                flags[slot] = FILLED
        return out

    def empty_slots(self) -> np.ndarray:
        """Rows ``< slots`` never filled, ascending (int64)."""
        flags = self.arrays()[1][: self.slots]
        return np.flatnonzero(flags == EMPTY).astype(np.int64)

    def filled(self) -> int:
        """Number of rows holding cached pixels."""
        return int(np.count_nonzero(self.arrays()[1] == FILLED))

    def info(self) -> CacheInfo:
        return CacheInfo(self.kind, self.samples, self.slots, self.filled(),
                         self.spec.slot_bytes, self.path)


class CacheView:
    """A dataset's handle on a store: ``positions[i]`` is the store row of its sample ``i``
    (None: row ``i``, the dataset the store was built for)."""

    def __init__(self, store: SlotStore, positions: np.ndarray | None = None) -> None:
        self.store, self.positions = store, positions

    def slot(self, i: int) -> int:
        return i if self.positions is None else int(self.positions[i])

    def load(self, i: int, decode: Callable[[int], torch.Tensor]) -> torch.Tensor:
        """``decode(i)`` through the cache (see ``SlotStore.load``)."""
        return self.store.load(self.slot(i), decode, i)

    def take(self, indices: np.ndarray) -> CacheView:
        """The view for the part made of samples ``indices`` of this view's dataset."""
        idx = np.asarray(indices, dtype=np.int64)
        return CacheView(self.store, idx if self.positions is None else self.positions[idx])

    def empty_samples(self) -> list[int]:
        """Dataset indices whose rows are fillable and never filled, ascending by row."""
        empty = self.store.empty_slots()
        if self.positions is None:
            return empty.tolist()
        mask = np.isin(self.positions, empty)
        return np.flatnonzero(mask).tolist()

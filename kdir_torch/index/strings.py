"""Compact string storage: one numpy byte buffer plus int64 offsets.

A Dataset that holds a Python list of path strings touches a refcount on every read, so each
forked DataLoader worker slowly copies the whole list (pytorch/pytorch#13246). ``StringTable``
holds no per-item Python objects: the bytes live in one ``uint8`` array and item ``i`` is
``buffer[offsets[i]:offsets[i + 1]]``, decoded on access with ``os.fsdecode``.
"""

from __future__ import annotations

import os
import reprlib
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, overload

import numpy as np


class StringTable(Sequence[str]):
    """An immutable sequence of ``str`` stored as bytes + offsets.

    Args:
        buffer: ``uint8`` array with the encoded strings back to back.
        offsets: ``int64`` array of length ``n + 1`` (``offsets[0] == 0``).
        prefix: optional string joined (``os.path.join``) in front of every item on access.
    """

    __slots__ = ("_buffer", "_offsets", "_prefix")

    def __init__(self, buffer: np.ndarray, offsets: np.ndarray, prefix: str | None = None) -> None:
        self._buffer = buffer
        self._offsets = offsets
        self._prefix = prefix

    @classmethod
    def from_strings(cls, items: Iterable[str]) -> StringTable:
        """Build a table from strings (encoded with ``os.fsencode``)."""
        encoded = [os.fsencode(s) for s in items]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        np.cumsum([len(b) for b in encoded], out=offsets[1:])
        buffer = np.frombuffer(b"".join(encoded), dtype=np.uint8).copy()
        return cls(buffer, offsets)

    @classmethod
    def concat(cls, tables: Sequence[StringTable]) -> StringTable:
        """Concatenate tables (their prefixes are ignored)."""
        if not tables:
            return cls.from_strings([])
        sizes = np.array([len(t._buffer) for t in tables], dtype=np.int64)
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        offsets = np.concatenate(
            [[0]] + [t._offsets[1:] + s for t, s in zip(tables, starts)]
        ).astype(np.int64)
        return cls(np.concatenate([t._buffer for t in tables]), offsets)

    def with_prefix(self, prefix: str | None) -> StringTable:
        """The same storage, with ``prefix`` joined in front of every item."""
        return StringTable(self._buffer, self._offsets, prefix)

    def take(self, indices: np.ndarray) -> StringTable:
        """A new table with the items at ``indices`` (int array), in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        starts, stops = self._offsets[indices], self._offsets[indices + 1]
        lengths = stops - starts
        offsets = np.zeros(len(indices) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        if len(indices) == 0:
            return StringTable(np.zeros(0, np.uint8), offsets, self._prefix)
        # Gather every byte of every selected item with one vectorised index.
        rel = np.arange(offsets[-1], dtype=np.int64) - np.repeat(offsets[:-1], lengths)
        buffer = self._buffer[np.repeat(starts, lengths) + rel]
        return StringTable(buffer, offsets, self._prefix)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    def _item(self, i: int) -> str:
        s = os.fsdecode(self._buffer[self._offsets[i] : self._offsets[i + 1]].tobytes())
        return os.path.join(self._prefix, s) if self._prefix is not None else s

    def tolist(self) -> list[str]:
        """All items as a Python ``list`` of ``str`` (as Keras's ``filenames``)."""
        return [self._item(j) for j in range(len(self))]

    def _positions(self, key: Any) -> np.ndarray:
        """Fancy-index ``key`` (int or bool array-like, numpy's rules) as int64 positions."""
        arr = np.asarray(key.detach().cpu() if hasattr(key, "detach") else key)
        n = len(self)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise IndexError(f"boolean index of shape {arr.shape} does not match {n} items")
            return np.flatnonzero(arr)
        if arr.size == 0:
            return np.zeros(0, np.int64)
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise IndexError("only integers, slices and 1-D integer or boolean arrays are "
                             f"valid indices. Received: {reprlib.repr(key)}")
        pos = arr.astype(np.int64)
        bad = (pos < -n) | (pos >= n)
        if bad.any():
            raise IndexError(f"index {int(pos[bad][0])} is out of range for {n} items")
        return np.where(pos < 0, pos + n, pos)

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice | Sequence[int] | np.ndarray) -> list[str]: ...
    def __getitem__(self, i: Any) -> str | list[str]:
        """``table[i]`` a ``str``; a slice, an int/bool array or a list of ints a ``list[str]``."""
        if isinstance(i, slice):
            return [self._item(j) for j in range(*i.indices(len(self)))]
        if isinstance(i, (list, tuple)) or getattr(i, "ndim", 0) >= 1:  # numpy / torch arrays
            return [self._item(int(j)) for j in self._positions(i)]
        n = len(self)
        j = int(i)
        if j < 0:
            j += n
        if not 0 <= j < n:
            raise IndexError(f"index {i} is out of range for {n} items")
        return self._item(j)

    def __iter__(self) -> Iterator[str]:
        return (self._item(j) for j in range(len(self)))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (StringTable, list, tuple)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other))
        return NotImplemented

    def __repr__(self) -> str:
        head = ", ".join(repr(s) for s in self[:3])
        return f"StringTable([{head}{', ...' if len(self) > 3 else ''}], n={len(self)})"

    @property
    def nbytes(self) -> int:
        """Bytes held by the buffer and the offsets."""
        return self._buffer.nbytes + self._offsets.nbytes

"""``cache="disk"``: decoded pixels in a memory-mapped file under ``cache_dir``.

Three files per cache key (see ``key.py``), all directly in ``cache_dir`` and nowhere else:
``kdir-<key>.pixels`` (one row per sample, created sparse: only filled rows take disk
space), ``kdir-<key>.flags`` (one byte per sample) and ``kdir-<key>.json`` (what the cache
is for, to help a person tidying the folder). Every process maps the files itself (a store
pickles as its paths), so workers, later epochs and later sessions with the same key all see
one copy through the page cache and reuse every filled row. A key change (files edited,
added or removed, other pixel options, another kdir_torch or Pillow version) names new
files; old ones are left in place, since another dataset or a running session may still use
them: delete ``cache_dir`` (or its ``kdir-*`` files) to reclaim the space.
"""

from __future__ import annotations

import json
import os
from typing import Any

import numpy as np

from .store import SlotSpec, SlotStore


def _sized_file(path: str, nbytes: int) -> None:
    """Create ``path`` (sparse) or grow it to ``nbytes``; never truncate what exists."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if os.fstat(fd).st_size < nbytes:
            os.ftruncate(fd, nbytes)
    finally:
        os.close(fd)


class DiskStore(SlotStore):
    """Rows for all ``samples`` in ``cache_dir``, of which this session fills the first
    ``slots`` (rows filled by an earlier session with a larger budget are read too).

    Args:
        spec: what a slot holds.
        samples: samples of the dataset.
        slots: rows this session may fill (``cache_bytes``).
        cache_dir: folder of the cache files (created if missing).
        key: the cache key (``key.cache_key``).
        meta: description written to the ``.json`` file.
    """

    kind = "disk"

    def __init__(self, spec: SlotSpec, samples: int, slots: int, cache_dir: str, key: str,
                 meta: dict[str, Any] | None = None) -> None:
        super().__init__(spec, samples, slots)
        base = os.path.join(os.fspath(cache_dir), f"kdir-{key}")
        self.path, self.flags_path = base + ".pixels", base + ".flags"
        self._pid, self._arrays = -1, None
        if meta is not None:  # the building process creates the files
            os.makedirs(os.path.dirname(base) or ".", exist_ok=True)
            _sized_file(self.path, max(self.samples * spec.slot_bytes, 1))
            _sized_file(self.flags_path, max(self.samples, 1))
            if not os.path.exists(base + ".json"):
                with open(base + ".json", "w") as f:
                    json.dump(meta, f, indent=1, default=str)

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if self._pid != os.getpid():  # each process maps the files itself
            rows = (self.samples, *self.spec.row_shape)
            pixels = np.memmap(self.path, self.spec.numpy_dtype, "r+", shape=rows)
            flags = np.memmap(self.flags_path, np.uint8, "r+", shape=(self.samples,))
            self._pid, self._arrays = os.getpid(), (pixels, flags)
        return self._arrays

    def flush(self) -> None:
        """Write the filled pixels to disk, then the flags (call after a long fill)."""
        if self._pid == os.getpid():
            self._arrays[0].flush()
            self._arrays[1].flush()

    def __getstate__(self) -> dict[str, Any]:  # the paths travel, the mappings do not
        return {**self.__dict__, "_pid": -1, "_arrays": None}

"""How many samples a cache may hold: ``cache_bytes`` or the default budget.

Defaults (``cache_bytes=None``):

* memory: a quarter of physical RAM, and at most half the free space of ``/dev/shm`` (where
  shared memory lives; the loader's batches need the rest);
* disk: half the free space of the file system holding ``cache_dir``.

A dataset larger than its budget caches its first samples by index and warns once, naming
how many of how many fit and the bytes all of them need; the others are decoded every epoch.
"""

from __future__ import annotations

import os
import shutil
import warnings

SHM = "/dev/shm"


def _free(path: str) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


def default_budget(kind: str, cache_dir: str | None) -> int:
    """The default ``cache_bytes`` for ``kind`` ("memory" or "disk"), in bytes."""
    if kind == "disk":
        folder = os.fspath(cache_dir)
        while not os.path.exists(folder) and os.path.dirname(folder) != folder:
            folder = os.path.dirname(folder)  # cache_dir may not exist yet
        return (_free(folder) or 0) // 2
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    shm = _free(SHM)
    return min(ram // 4, shm // 2) if shm is not None else ram // 4


def _size(nbytes: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if nbytes < 1024 or unit == "GiB":
            return f"{nbytes:.0f} {unit}" if unit == "bytes" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError  # pragma: no cover


def slots_within(kind: str, samples: int, slot_bytes: int, cache_bytes: int | None,
                 cache_dir: str | None) -> int:
    """Samples that fit the budget (the first ones by index); warns when not all do.

    Args:
        kind: "memory" or "disk".
        samples: samples of the dataset.
        slot_bytes: bytes of one sample's pixels.
        cache_bytes: the budget, or None for the default.
        cache_dir: the disk cache's folder (for the default disk budget).

    Returns:
        ``min(samples, budget // slot_bytes)``.
    """
    given = cache_bytes is not None
    budget = int(cache_bytes) if given else default_budget(kind, cache_dir)
    slots = min(samples, budget // max(slot_bytes, 1))
    if slots < samples:
        which = (f"cache_bytes={budget}" if given
                 else f"the default budget of {_size(budget)} ({budget} bytes)")
        warnings.warn(
            f"cache={kind!r} holds only the first {slots} of {samples} samples: "
            f"{which} fits {slots} samples of {slot_bytes} bytes, and all {samples} need "
            f"{samples * slot_bytes} bytes ({_size(samples * slot_bytes)}). The other "
            f"{samples - slots} are decoded every epoch; pass a larger `cache_bytes`"
            + (", or cache='disk'." if kind == "memory" else "."),
            UserWarning, stacklevel=4,
        )
    return slots

"""Attaching a decoded cache to a dataset: argument checks, the store, the ``load_raw`` hook.

A dataset opts in with two calls and one decorator:

* ``check_cache_args(cache, cache_dir, cache_bytes, size)`` before it touches the disk;
* ``attach_cache(self, cache, cache_dir, cache_bytes)`` at the end of ``__init__``, which
  asks the dataset's ``_cache_spec()`` for ``(SlotSpec, pixel options, file paths)``;
* ``@cached`` on its ``load_raw``: with a cache, the decorated method reads the sample's
  slot, or decodes and fills it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from .budget import slots_within
from .disk import DiskStore
from .key import cache_key
from .memory import MemoryStore
from .store import CacheView

CACHE_KINDS = (None, "memory", "disk")
ATTR = "_decoded_cache"


def check_cache_args(cache: Any, cache_dir: Any, cache_bytes: Any, size: Any,
                     size_name: str = "target_size") -> None:
    """Keras-style checks of the cache arguments.

    Args:
        cache: None, "memory" or "disk".
        cache_dir: folder for "disk" (required there, refused otherwise).
        cache_bytes: None or an int >= 0, only with a cache.
        size: the dataset's fixed image size (None: each file's own size, not cacheable).
        size_name: the argument that sets ``size``, for the message.

    Raises:
        ValueError: a bad value or combination. TypeError: a non-int ``cache_bytes``.
    """
    if not (cache is None or isinstance(cache, str)) or cache not in CACHE_KINDS:
        raise ValueError("`cache` must be one of {None, 'memory', 'disk'}. "
                         f"Received: cache={cache!r}")
    if cache == "disk" and cache_dir is None:
        raise ValueError("`cache_dir` is required with cache='disk' (the folder the cache "
                         "files are written to). Received: cache_dir=None")
    if cache != "disk" and cache_dir is not None:
        raise ValueError("`cache_dir` is only used with cache='disk'. "
                         f"Received: cache={cache!r}, cache_dir={cache_dir!r}")
    if cache_dir is not None and not isinstance(cache_dir, (str, os.PathLike)):
        raise TypeError(f"`cache_dir` must be a path. Received: cache_dir={cache_dir!r}")
    if cache_bytes is not None:
        if isinstance(cache_bytes, bool) or not isinstance(cache_bytes, (int, np.integer)):
            raise TypeError("`cache_bytes` must be an int or None. "
                            f"Received: cache_bytes={cache_bytes!r}")
        if cache_bytes < 0:
            raise ValueError(f"`cache_bytes` must be >= 0. Received: cache_bytes={cache_bytes}")
        if cache is None:
            raise ValueError("`cache_bytes` is only used with cache='memory' or 'disk'. "
                             f"Received: cache=None, cache_bytes={cache_bytes}")
    if cache is not None and size is None:
        raise ValueError(f"cache={cache!r} needs images of one size: pass a `{size_name}`. "
                         f"Received: {size_name}=None")


def attach_cache(ds: Any, cache: str | None, cache_dir: Any, cache_bytes: int | None) -> None:
    """Give ``ds`` a decoded cache (nothing for ``cache=None`` or an empty dataset).

    Args:
        ds: a dataset with ``_cache_spec() -> (SlotSpec, options dict, paths)`` and ``len``.
        cache, cache_dir, cache_bytes: as checked by ``check_cache_args``.
    """
    ds.__dict__.pop(ATTR, None)
    if cache is None or len(ds) == 0:
        return
    spec, options, paths = ds._cache_spec()
    n = len(ds)
    slots = slots_within(cache, n, spec.slot_bytes, cache_bytes, cache_dir)
    if cache == "memory":
        store = MemoryStore(spec, n, slots)
    else:
        key = cache_key(paths, {**options, "dtype": str(spec.dtype), "hwc": spec.hwc})
        meta = {"dataset": type(ds).__name__, "samples": n, "shape": spec.row_shape,
                "dtype": str(spec.dtype), "options": options,
                "first_file": os.path.abspath(paths[0]) if n else None}
        store = DiskStore(spec, n, slots, os.fspath(cache_dir), key, meta)
    setattr(ds, ATTR, CacheView(store))


def cache_view(ds: Any) -> CacheView | None:
    """The dataset's ``CacheView``, or None."""
    return ds.__dict__.get(ATTR)


def cached(load_raw: Callable[[Any, int], torch.Tensor]) -> Callable[[Any, int], torch.Tensor]:
    """Decorator for a dataset's ``load_raw``: go through the cache when the dataset has one
    (same result, bit for bit; failures raise exactly as undecorated)."""

    @functools.wraps(load_raw)
    def load(self: Any, i: int) -> torch.Tensor:
        view = self.__dict__.get(ATTR)
        if view is None:
            return load_raw(self, i)
        return view.load(int(i), functools.partial(load_raw, self))

    return load


def take_cache(part: Any, indices: np.ndarray) -> None:
    """Point a part (``kt.split`` / ``Subset``, a shallow copy) at its samples' rows."""
    view = part.__dict__.get(ATTR)
    if view is not None:
        setattr(part, ATTR, view.take(indices))


def drop_cache(ds: Any) -> bool:
    """Remove the cache from a copy whose samples no longer match it; True if it had one."""
    return ds.__dict__.pop(ATTR, None) is not None

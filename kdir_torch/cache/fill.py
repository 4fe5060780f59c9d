"""``ds.fill_cache()``: decode every sample not cached yet, in worker processes, with a bar.

Without it the cache fills lazily: the first epoch decodes (and caches) each sample it
reads, so nothing extra is needed for training. ``fill_cache`` is for filling up front (a
progress bar when ``verbose``, before a timed run, or to build a disk cache once for later
sessions). Bad files follow the dataset's ``on_error``: "raise" raises the
``ImageDecodeError`` (naming the file) of the first bad file it meets; "skip" leaves them
uncached and warns once with their count.
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import torch
from torch.utils.data import DataLoader, Dataset

from ..errors import ImageDecodeError
from ..progress import progress
from .disk import DiskStore
from .setup import cache_view


class _Chunks(Dataset):
    """Item ``k``: decode chunk ``k`` of the indices (filling their slots); returns
    ``(count, errors)``."""

    def __init__(self, ds: Any, chunks: list[list[int]]) -> None:
        self.ds, self.chunks = ds, chunks

    def __len__(self) -> int:
        return len(self.chunks)

    def __getitem__(self, k: int) -> tuple[int, list[ImageDecodeError]]:
        errors = []
        for i in self.chunks[k]:
            try:
                self.ds.load_raw(i)
            except ImageDecodeError as exc:
                errors.append(exc)
        return len(self.chunks[k]), errors


def _identity(item: Any) -> Any:
    return item


def _one_thread(worker_id: int) -> None:
    del worker_id
    torch.set_num_threads(1)


def fill_cache(ds: Any, num_workers: int | None = None, verbose: bool = True,
               chunk: int = 32) -> int:
    """Decode and cache every fillable sample of ``ds`` that is not cached yet.

    Args:
        ds: a dataset built with ``cache="memory"`` or ``"disk"``.
        num_workers: decoding processes (None: one per available core; 0: this process).
        verbose: show a progress bar (when filling takes over a second).
        chunk: samples per worker task.

    Returns:
        The number of samples decoded (bad files included).

    Raises:
        ValueError: ``ds`` has no cache.
        ImageDecodeError: a bad file, under ``on_error="raise"``.
    """
    view = cache_view(ds)
    if view is None:
        raise ValueError(f"This {type(ds).__name__} has no decoded cache: build it with "
                         "cache='memory' or cache='disk'.")
    todo = view.empty_samples()
    if num_workers is None:
        num_workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    chunks = [todo[k:k + chunk] for k in range(0, len(todo), chunk)]
    workers = min(int(num_workers), len(chunks))
    loader = DataLoader(_Chunks(ds, chunks), batch_size=None, num_workers=workers,
                        collate_fn=_identity, worker_init_fn=_one_thread if workers else None)
    bad: list[ImageDecodeError] = []
    with progress(total=len(todo), desc="Caching images", unit="img", verbose=verbose) as bar:
        for count, errors in loader:
            if errors and getattr(ds, "on_error", "raise") == "raise":
                raise errors[0]
            bad.extend(errors)
            bar.update(count)
    if bad:
        warnings.warn(f"fill_cache: {len(bad)} file(s) could not be decoded and are not "
                      f"cached (retried, and skipped, every epoch), e.g. {bad[0].path!r}.",
                      UserWarning, stacklevel=3)
    if isinstance(view.store, DiskStore):
        view.store.flush()
    return len(todo)

"""Decoded-cache benchmark: the raw decode bound vs a filling epoch vs cached epochs.

On the loader section's photo tree (or the user's), in one run, interleaved round by round:
the raw decode bound (PIL decode + resize, one process per core), ``make_loader`` without a
cache, the first epoch of a fresh ``cache="memory"`` / ``cache="disk"`` dataset (it decodes
and fills; its loader's worker start-up is included) and an epoch of an already-filled one.
Every loader is the loader section's: 224x224 nearest, batch 32, shuffled, uint8 to float32
on the CPU. The disk caches live in a temporary folder under ``$TMPDIR``, removed at the end.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from .loader import fork_pool, ours, plain_loader, raw_bound
from .timing import count, interleaved, report
from .trees import photo_tree_paths


def _filling(root: str, workers: int, cache: str, scratch: str) -> Callable[[], int]:
    """Each call: a fresh cached dataset (a new folder for disk) and its first epoch."""
    rounds = iter(range(10**6))

    def epoch() -> int:
        kw: dict[str, Any] = {"cache": cache}
        if cache == "disk":
            kw["cache_dir"] = os.path.join(scratch, f"fill_{next(rounds)}")
        return count(plain_loader(root, workers, **kw))

    return epoch


def _cached(root: str, workers: int, cache: str, scratch: str) -> Callable[[], int]:
    """Epochs of one loader over a dataset whose cache the warm-up epoch filled."""
    kw: dict[str, Any] = {"cache": cache}
    if cache == "disk":
        kw["cache_dir"] = os.path.join(scratch, "cached")
    return ours(root, workers, **kw)


def cache_throughput(n_images: int = 2000, num_workers: int | None = None,
                     root: str | None = None, rounds: int = 3) -> dict[str, float]:
    """Time the contenders on one tree, interleaved; print median rates and ratios to the bound.

    Args:
        n_images: photos of the built-in tree (ignored when ``root`` is given).
        num_workers: loader workers and pool processes (default: the usable cores).
        root: a class tree to measure (nothing is written into it).
        rounds: interleaved rounds (medians reported).

    Returns:
        Median images/s per contender (``"raw_bound"``, ``"kdir_torch cached epoch
        (memory)"``, ...).
    """
    workers = num_workers or len(os.sched_getaffinity(0))
    root, paths, took = photo_tree_paths(n_images, root)
    print(f"[cache] tree {root}: {len(paths)} images ready in {took:.1f}s; "
          f"{workers} workers; make_loader 224x224 nearest to cpu; {rounds} interleaved "
          "rounds, median shown")
    scratch = tempfile.mkdtemp(prefix="kdir_bench_cache_", dir=os.environ.get("TMPDIR", "/tmp"))
    try:
        with contextlib.ExitStack() as stack:
            runs = {"raw_bound": raw_bound(paths, fork_pool(workers, stack)),
                    "kdir_torch make_loader, no cache": ours(root, workers)}
            for kind in ("memory", "disk"):
                runs[f"kdir_torch first epoch, filling ({kind})"] = \
                    _filling(root, workers, kind, scratch)
            for kind in ("memory", "disk"):
                runs[f"kdir_torch cached epoch ({kind})"] = _cached(root, workers, kind, scratch)
            res = interleaved(runs, rounds)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return report("cache", runs, res, bound="raw_bound", ours="kdir_torch cached epoch (memory)")

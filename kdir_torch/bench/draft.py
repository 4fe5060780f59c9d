"""Reduced-DCT decoding benchmark (``jpeg_draft=True``): speed and pixel difference.

Two trees at 224x224: camera-size photos (2400x1800, where 1/8 applies) and the loader tree's
~500x375 photos (where no reduction applies, so ``jpeg_draft`` must cost nothing). On each,
interleaved rounds time the full-decode bound (PIL decode + resize, one process per core), the
draft bound (the same with ``Image.draft``) and ``make_loader`` with and without
``jpeg_draft``; ratios are to the full-decode bound of the same filter. The camera-size photos
are timed with the nearest filter (the legacy default) and with bilinear (the modern API's
default; PIL's bilinear of a 2400x1800 image costs about as much as its decode, so the full
decode bound drops to the 60-85 img/s issue 13 quotes for 2 cores). The pixel difference of ``jpeg_draft``
from the full decode is measured on the large photos for the legacy and modern loaders.
"""

from __future__ import annotations

import contextlib
import os
import time

import numpy as np

from .loader import SIZE, fork_pool, ours, raw_bound
from .timing import interleaved, report
from .trees import build_large_photo_tree, build_photo_tree, default_root

def pixel_difference(paths: list[str]) -> dict[str, tuple[float, int]]:
    """Mean and max absolute difference of ``jpeg_draft`` from the full decode at 224x224,
    over ``paths``, for the legacy (PIL filters) and modern (TF kernels) loaders."""
    from ..io.legacy import load_array
    from ..io.modern import load_image

    out = {}
    for interp in ("nearest", "bilinear"):
        for api in ("legacy", "modern"):
            total, top, n = 0.0, 0, 0
            for p in paths:
                if api == "legacy":
                    full = load_array(p, "rgb", SIZE, interp).astype(np.float32)
                    fast = load_array(p, "rgb", SIZE, interp, jpeg_draft=True)
                else:
                    full = load_image(p, 3, SIZE, interp).float().numpy()
                    fast = load_image(p, 3, SIZE, interp, jpeg_draft=True).float().numpy()
                diff = np.abs(fast - full)
                total, top, n = total + float(diff.sum()), max(top, int(diff.max())), n + diff.size
            out[f"{api} {interp}"] = (total / n, top)
    return out


def _speed(tag: str, root: str, workers: int, rounds: int,
           interpolation: str = "nearest") -> dict[str, float]:
    import kdir_torch as kt

    paths = list(kt.index_directory(root).filepaths)
    with contextlib.ExitStack() as stack:
        pool = fork_pool(workers, stack)
        runs = {"full_bound (PIL decode+resize)": raw_bound(paths, pool, chunksize=8,
                                                           interpolation=interpolation),
                "draft_bound (PIL draft decode+resize)": raw_bound(
                    paths, pool, True, 8, interpolation=interpolation),
                "kdir_torch make_loader": ours(root, workers, interpolation=interpolation),
                "kdir_torch make_loader (jpeg_draft=True)": ours(
                    root, workers, jpeg_draft=True, interpolation=interpolation)}
        res = interleaved(runs, rounds)
    print(f"[{tag}] {len(paths)} images of {root}, {interpolation}")
    return report(tag, runs, res, bound="full_bound (PIL decode+resize)",
                  ours="kdir_torch make_loader (jpeg_draft=True)")


def draft_speed(n_images: int = 200, n_small: int = 400, num_workers: int | None = None,
                rounds: int = 3, diff_images: int = 16,
                large_size: tuple[int, int] = (1800, 2400)) -> dict[str, dict]:
    """Time ``jpeg_draft`` on large and small photos and measure its pixel difference.

    Args:
        n_images: 2400x1800 photos of the large tree (kept under ``$TMPDIR`` between runs).
        n_small: ~500x375 photos of the no-reduction tree (kept likewise).
        num_workers: loader workers and pool processes (default: the usable cores).
        rounds: interleaved rounds (medians reported).
        diff_images: large photos the pixel difference is measured on.
        large_size: ``(height, width)`` of the large photos.

    Returns:
        ``{"large": medians, "large bilinear": medians, "small": medians, "difference":
        {"legacy nearest": (mean, max), ...}}``, medians in images/s per contender name.
    """
    workers = num_workers or len(os.sched_getaffinity(0))
    t0 = time.perf_counter()
    h, w = large_size
    large = build_large_photo_tree(default_root(f"kdir_bench_large_photos_{n_images}_{h}x{w}"),
                                   n_images, size=large_size, verbose=True)
    small = build_photo_tree(default_root(f"kdir_bench_photos_{n_small}"), n_small,
                             verbose=True)
    print(f"[draft] trees ready in {time.perf_counter() - t0:.1f}s; 224x224; "
          f"{workers} workers; {rounds} interleaved rounds, median shown")
    out = {"large": _speed(f"draft {w}x{h}", large, workers, rounds),
           "large bilinear": _speed(f"draft {w}x{h} bilinear", large, workers, rounds,
                                    "bilinear"),
           "small": _speed("draft ~500x375", small, workers, rounds)}
    import kdir_torch as kt

    sample = list(kt.index_directory(large).filepaths)[:diff_images]
    out["difference"] = pixel_difference(sample)
    for name, (mean, top) in out["difference"].items():
        print(f"[draft difference] {name:17s} mean |draft - full| {mean:5.2f}  max {top:3d}  "
              f"({len(sample)} photos {w}x{h} -> 224x224, 0..255)")
    return out

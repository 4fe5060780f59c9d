#!/usr/bin/env python
"""kdir_torch benchmarks: every figure is printed next to its reference measured in the same run.

Timings on shared machines are noisy: compare the ratios of one run, not absolute numbers across
runs. Sections (all by default): index, augment, loader, memory.

    python scripts/bench.py                      # everything, default sizes
    python scripts/bench.py index --files 200000 # indexing vs Keras's DirectoryIterator
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc

os.environ.setdefault("KERAS_BACKEND", "torch")


def _best(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def build_listing_tree(root: str, n_files: int, n_classes: int = 100) -> None:
    """Empty files with valid names: ``root/class_XX/[sub_Y/]NNNNNN.jpg`` (listing-only)."""
    made: set[str] = set()
    for i in range(n_files):
        cls = f"class_{i % n_classes:03d}"
        sub = f"sub_{(i // n_classes) % 4}" if i % 3 == 0 else ""
        d = os.path.join(root, cls, sub)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        open(os.path.join(d, f"{i:07d}.jpg"), "wb").close()


def bench_index(n_files: int, repeats: int) -> dict:
    """Index ``n_files`` with kdir_torch and with Keras's DirectoryIterator construction."""
    import kdir_torch as kt

    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        build_listing_tree(root, n_files)
        print(f"[index] built {n_files} empty files in {time.perf_counter() - t0:.1f}s")
        ours = _best(lambda: kt.index_directory(root), repeats)
        tracemalloc.start()
        idx = kt.index_directory(root)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        path_bytes = int(idx.filenames._offsets[-1])
        held = idx.filenames.nbytes + idx.classes.nbytes
        per_sample = (held - path_bytes) / len(idx)
        out = {"files": len(idx), "ours_s": ours, "bytes_per_sample_beyond_paths": per_sample,
               "peak_build_mb": peak / 2**20}
        print(f"[index] kdir_torch.index_directory: {ours:.3f}s  ({len(idx) / ours:,.0f} files/s); "
              f"held {held / 2**20:.1f} MiB = paths + {per_sample:.1f} B/sample")
        try:
            from keras.src.legacy.preprocessing.image import ImageDataGenerator
        except Exception as exc:  # keras absent: ours only
            print(f"[index] keras not importable ({exc.__class__.__name__}); no reference")
            return out
        gen = ImageDataGenerator()

        def keras_build():
            import contextlib
            import io
            with contextlib.redirect_stdout(io.StringIO()):
                it = gen.flow_from_directory(root, shuffle=False)
            assert it.samples == len(idx)

        theirs = _best(keras_build, repeats)
        out.update(keras_s=theirs, ratio=theirs / ours)
        print(f"[index] keras DirectoryIterator():   {theirs:.3f}s  -> kdir_torch is "
              f"{theirs / ours:.2f}x faster (goal >= 2x)")
    return out


def bench_augment(n_images: int) -> dict:
    from kdir_torch.augment.bench import augment_throughput

    res = augment_throughput(n_images=n_images)
    line = (f"[augment] {res['size']}x{res['size']}, batch {res['batch_size']}, {res['threads']} threads: "
            f"kdir_torch Augment {res['ours_images_per_s']:.0f} img/s")
    if res.get("keras_images_per_s"):
        line += (f"; keras random_transform {res['keras_images_per_s']:.0f} img/s -> "
                 f"{res['ratio']:.2f}x (goal >= 5x)")
    print(line)
    return res


def bench_loader(n_images: int, workers: int | None, rounds: int, device: str) -> dict:
    from bench_loader import loader_throughput

    return loader_throughput(n_images=n_images, num_workers=workers, rounds=rounds, device=device)


def bench_memory(entries: int) -> dict:
    from bench_loader import worker_memory

    return worker_memory(entries)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sections", nargs="*", default=["index", "augment", "loader", "memory"],
                   choices=["index", "augment", "loader", "memory"])
    p.add_argument("--files", type=int, default=200_000, help="files for the index benchmark")
    p.add_argument("--repeats", type=int, default=3,
                   help="index repeats / interleaved loader rounds")
    p.add_argument("--images", type=int, default=256, help="images for the augment benchmark")
    p.add_argument("--photos", type=int, default=2000, help="JPEGs for the loader benchmark")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--device", default="cpu",
                   help="where make_loader delivers its batches in the loader benchmark (cuda: "
                        "float conversion on the GPU, each epoch timed to a synchronize)")
    p.add_argument("--entries", type=int, default=1_000_000, help="index entries for the memory test")
    a = p.parse_args(argv)
    if a.device.startswith("cuda") and "loader" in a.sections:
        import torch

        if not torch.cuda.is_available():
            p.error(f"--device {a.device}: CUDA is not available on this machine")
    for s in a.sections:
        if s == "index":
            bench_index(a.files, a.repeats)
        elif s == "augment":
            bench_augment(a.images)
        elif s == "loader":
            bench_loader(a.photos, a.workers, a.repeats, a.device)
        elif s == "memory":
            bench_memory(a.entries)
    return 0


if __name__ == "__main__":
    sys.exit(main())

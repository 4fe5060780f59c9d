"""Indexing benchmark: ``kt.index_directory`` against Keras's ``DirectoryIterator`` construction."""

from __future__ import annotations

import contextlib
import io
import tempfile
import time
import tracemalloc

from .timing import best
from .trees import build_listing_tree


def index_speed(n_files: int = 200_000, repeats: int = 3) -> dict[str, float]:
    """Index ``n_files`` empty files with kdir_torch and with Keras's ``flow_from_directory``.

    Returns:
        ``files``, ``ours_s`` (best of ``repeats``), ``bytes_per_sample_beyond_paths``,
        ``peak_build_mb``, and with Keras installed ``keras_s`` and ``ratio`` (Keras / ours).
    """
    import kdir_torch as kt

    with tempfile.TemporaryDirectory() as root:
        t0 = time.perf_counter()
        build_listing_tree(root, n_files)
        print(f"[index] built {n_files} empty files in {time.perf_counter() - t0:.1f}s")
        ours = best(lambda: kt.index_directory(root), repeats)
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

        def keras_build() -> None:
            with contextlib.redirect_stdout(io.StringIO()):
                it = gen.flow_from_directory(root, shuffle=False)
            assert it.samples == len(idx)

        theirs = best(keras_build, repeats)
        out.update(keras_s=theirs, ratio=theirs / ours)
        print(f"[index] keras DirectoryIterator():   {theirs:.3f}s  -> kdir_torch is "
              f"{theirs / ours:.2f}x faster (goal >= 2x)")
    return out

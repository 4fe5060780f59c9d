"""Worker memory benchmark: a forked worker's private memory while reading every path of an index."""

from __future__ import annotations

import os


def _private_mb(pid: int) -> float:
    """Private (copied) memory of a process in MiB, from /proc/PID/smaps_rollup."""
    total = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            if line.startswith(("Private_Clean:", "Private_Dirty:")):
                total += int(line.split()[1])
    return total / 1024


class _PathReader:
    """Reads every path of an index-like object (what a worker does per sample, minus decoding)."""

    def __init__(self, paths) -> None:
        self.paths = paths

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int) -> int:
        return len(self.paths[i])


def _measure_worker(paths, batch: int) -> tuple[float, float]:
    import torch

    dl = torch.utils.data.DataLoader(_PathReader(paths), batch_size=batch, num_workers=1,
                                     persistent_workers=True, collate_fn=len)
    it = iter(dl)
    next(it)
    pid = it._workers[0].pid  # the DataLoader iterator's worker processes
    start = _private_mb(pid)
    for _ in it:
        pass
    end = _private_mb(pid)
    return start, end


def worker_memory(n_entries: int = 1_000_000) -> dict:
    """Private memory of one loader worker before/after reading all ``n_entries`` paths.

    kdir_torch keeps paths in one numpy buffer (no per-sample Python objects), so a forked
    worker's private memory stays flat; a Python list of str is copied page by page as the
    worker touches each string's refcount (pytorch/pytorch#13246).
    """
    from kdir_torch.index import StringTable

    names = [f"class_{i % 1000:04d}/sub_{i % 7}/{i:08d}.jpg" for i in range(n_entries)]
    table = StringTable.from_strings(names).with_prefix("/data/images")
    as_list = [os.path.join("/data/images", s) for s in names]
    del names
    res = {}
    for label, paths in (("kdir_torch StringTable", table), ("python list[str]", as_list)):
        start, end = _measure_worker(paths, batch=4096)
        res[label] = (start, end)
        print(f"[memory] {label:24s} worker private memory {start:7.1f} MiB -> {end:7.1f} MiB "
              f"after reading {n_entries:,} paths (+{end - start:.1f} MiB)")
    return res

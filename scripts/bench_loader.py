"""Loader benchmark (issue 4): a photo-like JPEG tree, the decode+resize bound, our loader, peers.

Every rate is images/s measured in this run; ratios compare against the raw bound (PIL decode +
resize of the same files, one process per core) and against each installed peer.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing as mp
import os
import time

import numpy as np

SIZE = (224, 224)


def _photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A natural-looking image: 1/f ("pink") noise per channel, correlated colours, edges."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w)) ** 1.8
    base = rng.normal(size=(3, h, w // 2 + 1)) + 1j * rng.normal(size=(3, h, w // 2 + 1))
    mix = np.array([[1.0, 0.6, 0.3], [0.5, 1.0, 0.5], [0.2, 0.6, 1.0]])
    field = np.fft.irfft2(base * amp, s=(h, w))
    field = np.tensordot(mix, field, axes=1)
    field = (field - field.mean()) / (field.std() + 1e-9)
    img = 128 + 45 * field.transpose(1, 2, 0)
    y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)  # one hard-edged object
    img[y0 : y0 + h // 3, x0 : x0 + w // 3] += rng.uniform(-60, 60, size=3)
    return np.clip(img, 0, 255).astype(np.uint8)


def build_photo_tree(root: str, n_images: int = 2000, n_classes: int = 10, seed: int = 0) -> str:
    """``root/class_k/NNNNN.jpg``, ~500x375 JPEGs (quality 90); reused when already complete."""
    from PIL import Image

    marker = os.path.join(root, f".complete_{n_images}")
    if os.path.exists(marker):
        return root
    rng = np.random.default_rng(seed)
    for i in range(n_images):
        d = os.path.join(root, f"class_{i % n_classes}")
        os.makedirs(d, exist_ok=True)
        h, w = (375, 500) if rng.random() < 0.7 else (500, 375)
        h += int(rng.integers(-20, 21))
        w += int(rng.integers(-20, 21))
        Image.fromarray(_photo(rng, h, w)).save(os.path.join(d, f"{i:05d}.jpg"), quality=90)
    open(marker, "w").close()
    return root


def _decode_resize(path: str) -> int:
    from PIL import Image

    with Image.open(path) as img:
        arr = np.asarray(img.convert("RGB").resize((SIZE[1], SIZE[0]), Image.Resampling.NEAREST))
    return arr.shape[0]


def _count(batches) -> int:
    """Images in an iterable of batches (``(x, ...)`` tuples or bare tensors)."""
    return sum(len(b[0]) if isinstance(b, (tuple, list)) else len(b) for b in batches)


def raw_bound(paths: list[str], workers: int, stack: contextlib.ExitStack):
    """PIL decode + nearest resize of every file, one process per core (pool started here)."""
    pool = stack.enter_context(mp.get_context("fork").Pool(workers))
    pool.map(_decode_resize, paths[: workers * 4])  # warm the pool
    return lambda: len(pool.map(_decode_resize, paths, chunksize=16))


def _plain_loader(root: str, workers: int, data_format: str = "channels_first",
                  device: str = "cpu"):
    """make_loader over the tree with legacy semantics: 224x224, nearest, batch 32, shuffled."""
    import kdir_torch as kt

    with contextlib.redirect_stdout(io.StringIO()):
        ds = kt.KerasDirDataset(root, target_size=SIZE, interpolation="nearest",
                                data_format=data_format)
    return kt.make_loader(ds, batch_size=32, shuffle=True, num_workers=workers, seed=0,
                          device=device)


def ours(root: str, workers: int, data_format: str = "channels_first", device: str = "cpu"):
    """Plain make_loader epochs on ``device``."""
    import torch

    loader = _plain_loader(root, workers, data_format, device)

    def epoch() -> int:
        n = _count(loader)
        if loader.device.type == "cuda":
            torch.cuda.synchronize(loader.device)  # the last batches' GPU work counts too
        return n

    epoch()  # warm-up epoch: worker start-up is not measured
    return epoch


def ours_host_side(root: str, workers: int):
    """What a CUDA target asks of the host: the same loader's uint8 batches, each copied out of
    its ring slot into a reused staging buffer (the pinned copy, minus the page locking); the
    float conversion would run on the GPU. A CPU stand-in for the host side of a GPU run."""
    loader = _plain_loader(root, workers)
    slots = loader._dataloader.dataset.slots  # internals: the bench measures the transport
    staging = np.empty_like(slots.view(0, 32).numpy())

    def epoch() -> int:
        n = 0
        for fb in loader._dataloader:
            size = len(fb.indices)
            # numpy: one thread, as the loader's own copies (torch's adds OpenMP spin-waits)
            np.copyto(staging[:size], slots.view(fb.slot, size).numpy())
            n += size
        return n

    epoch()
    return epoch


def _keras_iterator(root: str):
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    with contextlib.redirect_stdout(io.StringIO()):
        return ImageDataGenerator().flow_from_directory(root, target_size=SIZE, batch_size=32, seed=0)


_KERAS_IT = None


def _keras_batch(i: int) -> int:
    return len(_KERAS_IT[i][0])


def keras_legacy(root: str, workers: int, stack: contextlib.ExitStack) -> dict:
    """Keras's flow_from_directory: as ``fit`` uses it by default (one process), and with its
    batches fetched by a fork pool of ``workers`` (what ``use_multiprocessing`` gives)."""
    global _KERAS_IT
    try:
        _KERAS_IT = _keras_iterator(root)
    except Exception:
        return {"keras_flow_from_directory": None}
    it = _KERAS_IT
    pool = stack.enter_context(mp.get_context("fork").Pool(workers))
    pool.map(_keras_batch, range(workers))
    return {"keras_flow_from_directory (1 process)": lambda: _count(it[i] for i in range(len(it))),
            f"keras_flow_from_directory ({workers}-process pool)":
                lambda: sum(pool.map(_keras_batch, range(len(it))))}


def keras_modern(root: str):
    """tf.data image_dataset_from_directory (needs tensorflow)."""
    try:
        import tensorflow as tf  # noqa: F401
        from keras.utils import image_dataset_from_directory
    except Exception:
        return None
    ds = image_dataset_from_directory(root, image_size=SIZE, interpolation="nearest", batch_size=32,
                                      seed=0)
    _count(ds)
    return lambda: _count(ds)


def torchvision_folder(root: str, workers: int):
    """torchvision ImageFolder + DataLoader with the same workers."""
    try:
        import torch
        from torchvision import datasets, transforms
    except Exception:
        return None
    tf = transforms.Compose([transforms.Resize(SIZE, transforms.InterpolationMode.NEAREST),
                             transforms.PILToTensor()])
    dl = torch.utils.data.DataLoader(datasets.ImageFolder(root, tf), batch_size=32, shuffle=True,
                                     num_workers=workers, persistent_workers=workers > 0)
    _count(dl)
    return lambda: _count(dl)


def loader_throughput(n_images: int = 2000, num_workers: int | None = None, root: str | None = None,
                      rounds: int = 3, device: str = "cpu") -> dict:
    """Measure every contender on one tree, interleaved (each round runs each contender once,
    so drifts in machine speed hit all alike); print median rates and ratios (best in
    brackets)."""
    workers = num_workers or len(os.sched_getaffinity(0))
    root = root or os.path.join(os.environ.get("TMPDIR", "/tmp"), f"kdir_bench_photos_{n_images}")
    t0 = time.perf_counter()
    build_photo_tree(root, n_images)
    print(f"[loader] photo tree {root}: {n_images} JPEGs ready in {time.perf_counter() - t0:.1f}s; "
          f"{workers} workers; make_loader to {device}; {rounds} interleaved rounds, median shown")
    import kdir_torch as kt

    paths = list(kt.index_directory(root).filepaths)
    with contextlib.ExitStack() as stack:
        runs = {"raw_bound": raw_bound(paths, workers, stack),
                **keras_legacy(root, workers, stack),
                "kdir_torch make_loader": ours(root, workers, device=device),
                "kdir_torch make_loader (channels_last)": ours(root, workers, "channels_last",
                                                              device),
                "kdir_torch host side of a GPU run (uint8)": ours_host_side(root, workers),
                "keras_image_dataset_from_directory (tf.data)": keras_modern(root),
                "torchvision ImageFolder+DataLoader": torchvision_folder(root, workers)}
        res: dict[str, list[float]] = {name: [] for name, run in runs.items() if run}
        for _ in range(rounds):
            for name in res:
                start = time.perf_counter()
                n = runs[name]()
                res[name].append(n / (time.perf_counter() - start))
    med = {k: float(np.median(v)) for k, v in res.items()}
    bound, mine = med["raw_bound"], med["kdir_torch make_loader"]
    for name in runs:
        if name not in res:
            print(f"[loader] {name:46s} not installed")
            continue
        extra = "" if name.startswith(("raw_bound", "kdir_torch")) else \
            f"  kdir_torch is {mine / med[name]:.2f}x this"
        print(f"[loader] {name:46s} {med[name]:7.1f} img/s [{max(res[name]):7.1f}]  "
              f"{med[name] / bound:4.2f}x bound{extra}")
    return med


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

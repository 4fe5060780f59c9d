"""Loader benchmark: a photo-like JPEG tree (or the user's), the decode+resize bound, our loader, peers.

Every rate is images/s measured in this run; ratios compare against the raw bound (PIL decode +
resize of the same files, one process per core) and against each installed peer. A second
bound does the same with torchvision's libjpeg-turbo decode (``io/turbo_jpeg.py``: PIL's
pixels, cheaper), which ``make_loader`` itself uses for such files when torchvision is installed.
"""

from __future__ import annotations

import contextlib
import functools
import io
import multiprocessing as mp
import os

import numpy as np

from .timing import count, interleaved, report
from .trees import photo_tree_paths

SIZE = (224, 224)


def _decode_resize(path: str, draft: bool = False, interpolation: str = "nearest") -> int:
    """The bound's work per file: PIL decode (reduced-DCT with ``draft``), RGB (a copy only
    when the file is not RGB, as Keras's ``load_img``), resize with PIL's ``interpolation``
    filter, an array."""
    from PIL import Image

    with Image.open(path) as img:
        if draft:
            img.draft("RGB", (SIZE[1], SIZE[0]))
        rgb = img if img.mode == "RGB" else img.convert("RGB")
        resample = Image.Resampling[interpolation.upper()]
        arr = np.asarray(rgb.resize((SIZE[1], SIZE[0]), resample))
    return arr.shape[0]


def _turbo_decode_resize(path: str) -> int:
    """The torchvision bound's work per file: read, decode with libjpeg-turbo, PIL's nearest
    pick into an array (the same pixels as ``_decode_resize``)."""
    from ..io.turbo_jpeg import decode_file

    with open(path, "rb") as fp:
        arr = decode_file(fp, SIZE, False, False)
    return -1 if arr is None else arr.shape[0]


def turbo_bound(paths: list[str], pool):
    """``_turbo_decode_resize`` of every file on ``pool``; None without torchvision or the
    ``_pick`` extension."""
    from ..io import turbo_jpeg

    if not turbo_jpeg.available():
        return None
    pool.map(_turbo_decode_resize, paths[:16])
    return lambda: len(pool.map(_turbo_decode_resize, paths, chunksize=16))


def fork_pool(workers: int, stack: contextlib.ExitStack):
    """A fork pool of ``workers`` processes, closed with ``stack``."""
    return stack.enter_context(mp.get_context("fork").Pool(workers))


def raw_bound(paths: list[str], pool, draft: bool = False, chunksize: int = 16,
              interpolation: str = "nearest"):
    """PIL decode + resize (nearest unless ``interpolation``) of every file on ``pool`` (one
    process per core; warmed here): the reference every loader figure is a ratio to."""
    fn = functools.partial(_decode_resize, draft=draft, interpolation=interpolation)
    pool.map(fn, paths[:16])  # warm the pool
    return lambda: len(pool.map(fn, paths, chunksize=chunksize))


def plain_loader(root: str, workers: int, data_format: str = "channels_first",
                 device: str = "cpu", **dataset_kw):
    """make_loader over the tree with legacy semantics: 224x224, nearest, batch 32, shuffled
    (``dataset_kw``: more ``KerasDirDataset`` arguments, e.g. ``cache``, ``jpeg_draft``,
    ``interpolation``)."""
    import kdir_torch as kt

    dataset_kw.setdefault("interpolation", "nearest")
    with contextlib.redirect_stdout(io.StringIO()):
        ds = kt.KerasDirDataset(root, target_size=SIZE, data_format=data_format, **dataset_kw)
    return kt.make_loader(ds, batch_size=32, shuffle=True, num_workers=workers, seed=0,
                          device=device)


def ours(root: str, workers: int, data_format: str = "channels_first", device: str = "cpu",
         **dataset_kw):
    """Epochs of one ``plain_loader`` on ``device``, after an untimed warm-up epoch (worker
    start-up, and the filling of a ``cache``, are not measured)."""
    import torch

    loader = plain_loader(root, workers, data_format, device, **dataset_kw)

    def epoch() -> int:
        n = count(loader)
        if loader.device.type == "cuda":
            torch.cuda.synchronize(loader.device)  # the last batches' GPU work counts too
        return n

    epoch()
    return epoch


def ours_device_decode(root: str, workers: int, device: str):
    """``make_loader(decode_on="device")`` epochs on a CUDA device: the workers ship JPEG bytes,
    nvJPEG decodes each batch and the resize runs on the GPU; None (with the reason printed)
    without CUDA."""
    import torch

    import kdir_torch as kt

    if not torch.cuda.is_available():
        print("[loader] kdir_torch make_loader (decode_on='device') skipped: CUDA is not "
              "available on this machine")
        return None
    with contextlib.redirect_stdout(io.StringIO()):
        ds = kt.KerasDirDataset(root, target_size=SIZE, interpolation="nearest")
    loader = kt.make_loader(ds, batch_size=32, shuffle=True, num_workers=workers, seed=0,
                            device=device if device.startswith("cuda") else "cuda",
                            decode_on="device")

    def epoch() -> int:
        n = count(loader)
        torch.cuda.synchronize(loader.device)
        return n

    epoch()
    return epoch


def ours_host_side(root: str, workers: int):
    """What a CUDA target asks of the host: the same loader's uint8 batches, each copied out of
    its ring slot into a reused staging buffer (the pinned copy, minus the page locking); the
    float conversion would run on the GPU. A CPU stand-in for the host side of a GPU run."""
    loader = plain_loader(root, workers)
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
    pool = fork_pool(workers, stack)
    pool.map(_keras_batch, range(workers))
    return {"keras_flow_from_directory (1 process)": lambda: count(it[i] for i in range(len(it))),
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
    count(ds)
    return lambda: count(ds)


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
    count(dl)
    return lambda: count(dl)


def dali_cpu(root: str, workers: int, n_listed: int):
    """NVIDIA DALI on the CPU (``device_id=None``): file reader (shuffled), libjpeg-turbo decode,
    nearest resize to 224x224, float32 CHW, batch 32, ``workers`` threads, DALI's default
    prefetch; batches as torch CPU tensors through DALI's PyTorch iterator. One call is exactly
    one epoch: the reader pads its last batch and the iterator drops the padding
    (``reader_name`` + ``LastBatchPolicy.PARTIAL``), so every listed file counts once."""
    try:
        from nvidia.dali import fn, pipeline_def, types
        from nvidia.dali.plugin.pytorch import DALIGenericIterator, LastBatchPolicy
    except Exception:
        return None

    @pipeline_def(batch_size=32, num_threads=workers, device_id=None, seed=0)
    def pipe():
        jpegs, labels = fn.readers.file(file_root=root, random_shuffle=True, name="Reader",
                                        pad_last_batch=True)
        images = fn.decoders.image(jpegs, device="cpu", output_type=types.RGB)
        images = fn.resize(images, resize_x=SIZE[1], resize_y=SIZE[0],
                           interp_type=types.INTERP_NN)
        return fn.crop_mirror_normalize(images, dtype=types.FLOAT, output_layout="CHW"), labels

    p = pipe()
    p.build()
    if p.epoch_size("Reader") != n_listed:
        print(f"[loader] note: DALI's reader lists {p.epoch_size('Reader')} files, kdir_torch "
              f"{n_listed} (other extension rules); rates count what each reads")
    it = DALIGenericIterator(p, ["x", "y"], reader_name="Reader", auto_reset=True,
                             last_batch_policy=LastBatchPolicy.PARTIAL)

    def epoch() -> int:
        return sum(len(b[0]["x"]) for b in it)

    epoch()  # warm-up epoch: thread start-up and first allocations are not measured
    return epoch


def loader_throughput(n_images: int = 2000, num_workers: int | None = None, root: str | None = None,
                      rounds: int = 3, device: str = "cpu",
                      decode_on_device: bool = False) -> dict[str, float]:
    """Time every contender on one tree, interleaved; print median rates and ratios.

    Args:
        n_images: photos of the built-in tree (ignored when ``root`` is given).
        num_workers: loader workers and pool processes (default: the cores this process may use).
        root: a class tree to measure as it is (nothing is written into it); default: the
            built-in photo tree, kept under ``$TMPDIR`` between runs.
        rounds: interleaved rounds (each runs every contender once; medians reported).
        device: where ``make_loader`` delivers its batches.
        decode_on_device: also time ``make_loader(decode_on="device")`` (JPEGs decoded by
            nvJPEG on ``device``, or "cuda" when ``device`` is the CPU); skipped, with the
            reason printed, without CUDA.

    Returns:
        Median images/s per contender name (``"raw_bound"``, ``"kdir_torch make_loader"``, ...).
    """
    from ..io import turbo_jpeg

    turbo_jpeg.prepare()  # before the pool forks: its processes inherit the decoder
    workers = num_workers or len(os.sched_getaffinity(0))
    root, paths, took = photo_tree_paths(n_images, root)
    print(f"[loader] tree {root}: {len(paths)} images ready in {took:.1f}s; "
          f"{workers} workers; make_loader to {device}; {rounds} interleaved rounds, median shown")
    with contextlib.ExitStack() as stack:
        pool = fork_pool(workers, stack)
        runs = {"raw_bound": raw_bound(paths, pool),
                "raw bound, torchvision decode (PIL's pixels)": turbo_bound(paths, pool),
                **keras_legacy(root, workers, stack),
                "kdir_torch make_loader": ours(root, workers, device=device),
                "kdir_torch make_loader (channels_last)": ours(root, workers, "channels_last",
                                                              device),
                "kdir_torch host side of a GPU run (uint8)": ours_host_side(root, workers),
                "keras_image_dataset_from_directory (tf.data)": keras_modern(root),
                "torchvision ImageFolder+DataLoader": torchvision_folder(root, workers),
                "DALI CPU pipeline (nvidia.dali, float32 CHW)": dali_cpu(root, workers,
                                                                         len(paths))}
        if decode_on_device:
            gpu = ours_device_decode(root, workers, device)
            if gpu is not None:
                runs["kdir_torch make_loader (decode_on='device')"] = gpu
        res = interleaved(runs, rounds, verbose=True)
    return report("loader", runs, res, bound="raw_bound", ours="kdir_torch make_loader")

"""``make_loader``: a deterministic, device-feeding loader for kdir_torch datasets."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch.utils.data import DataLoader

from .._rng import torch_generator
from .._validation import check_on_error
from ..datasets.subsets import as_dataset
from . import checks
from .distributed import world
from .buffers import SharedSlots, raw_shape
from .byte_reader import ByteReader, decode_spec
from .device_decode import DeviceDecoder, resolve_decode_device
from .fetch import BatchFetcher, no_collate, worker_init
from .loader import DeviceLoader
from .orders import epoch_sampler
from .pipeline import pipeline_dataset, worker_view
from .sampler import BatchPlan

DEFAULT_TIMEOUT = 300.0
_BASE_SEED_TAG = 0xDA7A  # counter separating the DataLoader's worker base seed from the order


def make_loader(
    dataset: Any,
    *,
    batch_size: int = 32,
    shuffle: bool = True,
    num_workers: int | None = None,
    pin_memory: bool | None = None,
    device: str | torch.device | None = None,
    augment: Any = None,
    seed: int | None = None,
    drop_last: bool = False,
    persistent_workers: bool | None = None,
    prefetch_factor: int | None = None,
    channels_last: bool = False,
    distributed: bool | None = None,
    standardize: Callable[[torch.Tensor], torch.Tensor] | None = None,
    augment_on: str = "device",
    timeout: float = DEFAULT_TIMEOUT,
    return_indices: bool = False,
    on_error: str | None = None,
    sampler: Any = None,
    max_per_class: int | None = None,
    balance: str | None = None,
    multiprocessing_context: Any = None,
    decode_on: str = "host",
) -> DeviceLoader:
    """Batches of ``dataset`` on ``device``: uint8 transport, finishing after transfer.

    Workers decode with ``dataset.load_raw`` and collate uint8 batches plus their int64
    indices; float conversion, augmentation, standardization and label encoding run after the
    transfer, on ``device``, through ``dataset.finish_batch`` (on a CUDA side stream, one batch
    ahead). For a given ``seed`` the batches (order and augmented pixels) are bit-identical for
    any ``num_workers`` and equal to stacking ``dataset[i]`` for the same indices and epoch
    (augmentation draws come from the dataset's seed and the epoch, the order from ``seed``).
    See ``DeviceLoader`` for the epoch rule, ``state_dict`` and the ``on_error="skip"`` policy,
    ``sampler.py`` for the distributed padding policy, ``buffers.py`` for the memory the
    loader reuses between batches (batches the caller keeps are never overwritten) and
    ``reading.py`` for the read deadline, ``balanced.py`` / ``user_sampler.py`` for balanced
    epochs and custom samplers. An ``Augment`` (or callable) built without a seed,
    on a dataset without one, draws from the loader's ``seed``: one ``seed=`` makes the whole
    run reproducible (and ``seed=None`` draws it from torch's default generator, so
    ``torch.manual_seed`` does too).

    Callables that run only in this process (``standardize``, and ``augment`` unless
    ``augment_on="worker"``) are never pickled to the workers, so lambdas work under the
    ``spawn`` and ``forkserver`` start methods. A dataset with ``transform`` /
    ``target_transform`` is finished in the workers (float batches travel, as with
    ``augment_on="worker"``): each sample gets the transforms after ``augment`` and
    ``standardize``, exactly as ``dataset[i]``; such callables must pickle under spawn (as
    with a plain ``DataLoader``), and random ones drawing from torch's global RNG are
    reproducible for a given ``seed`` and ``num_workers`` only (workers are seeded by the
    DataLoader from the loader's ``seed``).

    Args:
        dataset: a kdir_torch dataset (``load_raw``, ``finish_batch``, ``__len__``), a part
            from ``kt.split``, or a ``torch.utils.data.Subset`` of one (sliced like a split
            part, so uint8 transport and device-side finishing stay; ``loader.dataset`` is
            that part).
        batch_size: samples per batch; 0 only for an empty dataset (0 batches per epoch, as
            Keras takes ``batch_size=0`` on an empty directory), else a ValueError.
        shuffle: reshuffle every epoch.
        num_workers: decoding processes; None = available cores (``sched_getaffinity``), max 8.
        pin_memory: page-locked host batches; None = only when ``device`` is CUDA.
        device: where batches are delivered (None = CPU).
        augment: overrides ``dataset.augment``: an ``Augment`` or a callable
            ``fn(x, indices, *, epoch, seed)`` on ``(B, C, H, W)`` float batches.
        seed: shuffle seed, and the augmentation seed of an unseeded ``Augment``; None draws
            one per loader from torch's default generator (as ``DataLoader``;
            ``torch.manual_seed`` makes it reproducible; numpy's state is never used).
        drop_last: drop the last partial batch.
        persistent_workers: keep workers between epochs; None = ``num_workers > 0``.
        prefetch_factor: batches each worker loads ahead (None = PyTorch's default, 2).
        channels_last: deliver 4-D tensors in ``torch.channels_last`` memory format.
        distributed: shard epochs over ``torch.distributed`` ranks; None = auto-detect.
        standardize: overrides ``dataset.standardize`` (callable on the finished batch).
        augment_on: "device" (after transfer) or "worker" (inside the workers, on CPU).
        timeout: seconds one image read may take, for any ``num_workers`` (0 included);
            a slower read fails as an ``ImageDecodeError`` naming the file (caused by a
            ``TimeoutError``), skipped under ``on_error="skip"``. 0 = no limit.
        return_indices: yield the ``(B,)`` int64 dataset indices as an extra last item.
        on_error: "raise" or "skip" a sample that cannot be read; None = the dataset's
            ``on_error`` ("raise" when it has none).
        sampler: a torch ``Sampler`` (e.g. ``WeightedRandomSampler``) or sized iterable of
            indices giving each epoch's order, drawn from ``(seed, epoch)`` in the main
            process (``user_sampler.py``); ``shuffle`` is then ignored.
        max_per_class: at most this many samples of each class per epoch, redrawn every
            epoch (``balanced.py``).
        balance: "oversample" (every class up to the largest, or to ``max_per_class``) or
            "undersample" (every class down to the smallest) for fully balanced epochs.
        multiprocessing_context: the workers' start method, as ``DataLoader``'s (None: the
            platform default; "spawn", "forkserver", "fork" or a context object).
        decode_on: "host" (workers decode every file) or "device": workers send JPEG bytes
            and the batch is decoded on the CUDA ``device`` with nvJPEG
            (``torchvision.io.decode_jpeg``), then resized there; other files are decoded in
            the workers as with "host" (``device_decode.py`` lists the rules and the pixel
            differences). Needs ``device="cuda"``, torchvision, batches finished after the
            transfer, and a directory / dataframe / ``image_dataset_from_directory`` dataset.

    Returns:
        A ``DeviceLoader`` yielding ``(x, y)`` (``x`` for class_mode None), plus ``indices``
        when ``return_indices``; x is ``(B, C, H, W)`` (``(B, H, W, C)`` for a channels_last
        dataset) of the dataset's dtype on ``device``.

    Raises:
        TypeError: an argument of the wrong type, or a dataset without the protocol.
        ValueError: an argument with a bad value (see ``loader/checks.py``).
    """
    dataset = as_dataset(dataset)
    checks.check_dataset(dataset)
    batch_size = checks.check_batch_size(batch_size, len(dataset))
    for name, flag in (("shuffle", shuffle), ("drop_last", drop_last),
                       ("channels_last", channels_last), ("return_indices", return_indices)):
        checks.check_bool(name, flag)
    dev = checks.resolve_device(device)
    options = checks.dataloader_options(num_workers, pin_memory, dev, persistent_workers,
                                        prefetch_factor, timeout)
    read_timeout = options.pop("timeout")
    on_worker = checks.check_augment_on(augment_on) == "worker" \
        or bool(getattr(dataset, "has_transforms", False))
    policy = None if on_error is None else check_on_error(on_error)
    decode_device = resolve_decode_device(decode_on, dev, dataset, on_worker)
    checks.check_memory_format(dataset, channels_last)
    replicas, rank = world() if checks.resolve_distributed(distributed) else (1, 0)
    sampler = epoch_sampler(dataset, sampler, shuffle=shuffle, seed=seed, num_replicas=replicas,
                            rank=rank, max_per_class=max_per_class, balance=balance)
    pipeline, seeds_augment = pipeline_dataset(dataset, augment, standardize, sampler.seed)
    plan = BatchPlan(sampler, batch_size, drop_last)
    if multiprocessing_context is not None:  # DataLoader checks it (and num_workers > 0)
        options["multiprocessing_context"] = multiprocessing_context
    workers_view = worker_view(pipeline, on_worker)
    byte_reader = None if decode_device is None else ByteReader(workers_view,
                                                                decode_spec(dataset))
    slots = None if byte_reader is not None else _shared_slots(dataset, batch_size, on_worker, options)
    dataloader = DataLoader(
        BatchFetcher(workers_view, finish_in_worker=on_worker, slots=slots,
                     on_error=policy, timeout=read_timeout, byte_reader=byte_reader),
        batch_size=None, sampler=plan,
        collate_fn=no_collate, worker_init_fn=worker_init if options["num_workers"] else None,
        generator=torch_generator(sampler.seed, _BASE_SEED_TAG),  # not the global RNG
        **options,
    )
    return DeviceLoader(dataset, pipeline, plan, dataloader, dev, channels_last=channels_last,
                        return_indices=return_indices, seeds_augment=seeds_augment,
                        decoder=None if decode_device is None
                        else DeviceDecoder(dataset, decode_device))


def _shared_slots(dataset: Any, batch_size: int, on_worker: bool,
                  options: dict[str, Any]) -> SharedSlots | None:
    """The ring workers decode into, when the raw batches have one fixed shape.

    Only with persistent workers: a non-persistent ``DataLoader`` iterator that is abandoned
    but still referenced keeps its workers running, and they would write into the slots of the
    next iteration. Any target: a CUDA one copies each slot out synchronously (``loader.py``).
    Only for uint8 samples: a dataset whose ``raw_dtype`` is another (in-memory float
    arrays) stacks its batches in fresh shared memory instead.
    """
    shape = raw_shape(dataset)
    if shape is None or on_worker or not options["persistent_workers"] or batch_size == 0 \
            or getattr(dataset, "raw_dtype", torch.uint8) != torch.uint8:
        return None
    in_flight = (options["prefetch_factor"] or 2) * options["num_workers"]
    return SharedSlots(in_flight + 1, batch_size, shape,
                       getattr(dataset, "data_format", None) == "channels_last")

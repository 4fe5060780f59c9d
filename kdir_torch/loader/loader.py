"""``DeviceLoader``: the iterable ``make_loader`` returns.

Epoch rule: the first ``iter(loader)`` runs epoch 0 (or the epoch given to ``set_epoch`` /
restored by ``load_state_dict``); every later ``iter()`` advances to the next epoch by itself,
so ``for epoch in range(E): for batch in loader`` reshuffles without any call. An explicit
``set_epoch(e)`` makes the next ``iter()`` run exactly epoch ``e`` (the DDP habit; calling it
every epoch is harmless). An iteration abandoned half-way still counts as an epoch.

Bad files under ``on_error="skip"``: the sample is left out, so its batch is smaller (labels
stay aligned, indices tell which samples are present); a batch whose samples all fail is not
yielded at all. At the end of each epoch one ``UserWarning`` gives the count and the first
path; ``loader.skipped`` lists ``(index, path)`` of the last epoch.
"""

from __future__ import annotations

import inspect
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader

from .buffers import BufferPool, raw_shape
from .fetch import BatchFetcher, FetchedBatch
from .prefetch import DevicePrefetcher, map_tensors
from .sampler import BatchPlan

_STATE_KEYS = ("epoch", "batches_seen", "seed", "num_replicas", "rank", "batch_size")


def _pop_error(fb: FetchedBatch) -> BaseException:
    """Detach the error from its batch, so that no frame in its traceback refers back to it
    (such a cycle would keep the batch, and the loader, alive until the cyclic GC runs)."""
    err, fb.error = fb.error, None
    return err


def _shutdown(dataloader: DataLoader, batches: Iterator[Any] | None = None) -> None:
    """Stop the workers of ``batches`` (default: ``dataloader``'s persistent iterator), which
    ``dataloader`` then forgets if it kept it.

    With the default it is the finalizer of a ``DeviceLoader``, run when the loader is freed,
    by reference counting or by the cyclic GC: in the second case the DataLoader, held here
    rather than by the garbage cycle, is still intact, so its workers get their stop signal at
    once instead of each waiting out a 5 s join timeout.
    """
    current = getattr(dataloader, "_iterator", None)
    batches = current if batches is None else batches
    if current is batches:
        dataloader._iterator = None
    shutdown = getattr(batches, "_shutdown_workers", None)
    if shutdown is not None:
        shutdown()


class DeviceLoader:
    """Batches of a dataset on a device, deterministic for a seed (built by ``make_loader``).

    Args:
        dataset: the user's dataset (``loader.dataset``).
        pipeline: the dataset view whose ``finish_batch`` is used (see ``pipeline.py``).
        plan: the ``BatchPlan`` (owns the ``SeededSampler``).
        dataloader: the ``DataLoader`` over a ``BatchFetcher`` that decodes the batches.
        device: target device.
        channels_last: convert 4-D outputs to the ``torch.channels_last`` memory format.
        return_indices: append the ``(B,)`` int64 dataset indices to every batch.
        seeds_augment: ``pipeline.seed`` is the loader's seed (an unseeded augmentation) and
            follows it when ``load_state_dict`` restores another one.
        decoder: a ``device_decode.DeviceDecoder`` for batches that arrive encoded
            (``decode_on="device"``), or None.

    Attributes:
        dataset: the user's dataset. sampler: the ``SeededSampler``. batch_size: ``B``.
        device: target device. seed: shuffle seed. epoch: epoch of the current/last iteration.
        skipped: ``(index, path)`` of samples skipped in the last epoch.
    """

    def __init__(self, dataset: Any, pipeline: Any, plan: BatchPlan, dataloader: DataLoader,
                 device: torch.device, *, channels_last: bool = False,
                 return_indices: bool = False, seeds_augment: bool = False,
                 decoder: Any = None) -> None:
        self.dataset, self._pipeline, self._plan = dataset, pipeline, plan
        self._decoder = decoder
        self._dataloader, self.device = dataloader, device
        self._slots = dataloader.dataset.slots
        # Reused output memory, for datasets whose finish_batch takes an allocator.
        accepts = inspect.signature(pipeline.finish_batch).parameters
        self._finish_kw = {"empty": BufferPool().empty} if "empty" in accepts or any(
            p.kind is p.VAR_KEYWORD for p in accepts.values()) else {}
        self._fetcher: BatchFetcher = dataloader.dataset  # get_batch reads in this process
        self._prefetcher = DevicePrefetcher(device)
        self.channels_last, self.return_indices = channels_last, return_indices
        self.epoch, self._started, self._resume_at, self._batches_seen = 0, False, 0, 0
        self._running, self._seeds_augment = False, seeds_augment
        self.skipped: list[tuple[int, str]] = []
        self._epoch_skipped: list[tuple[int, str]] = []
        weakref.finalize(self, _shutdown, dataloader)

    sampler = property(lambda self: self._plan.sampler)
    batch_size = property(lambda self: self._plan.batch_size)
    seed = property(lambda self: self._plan.sampler.seed)
    num_workers = property(lambda self: self._dataloader.num_workers)
    running = property(lambda self: self._running, doc="Whether an epoch is being iterated.")

    def __len__(self) -> int:
        """Batches per epoch on this rank: ``ceil(len(shard) / B)`` (floor with drop_last)."""
        return len(self._plan)

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``iter()`` run ``epoch`` from its first batch.

        ``loader.sampler.set_epoch(epoch)`` (the DistributedSampler idiom) works the same.
        """
        self.sampler.set_epoch(epoch)
        self.epoch, self._resume_at = int(epoch), 0

    def __iter__(self) -> Iterator[Any]:
        """One epoch of batches (which epoch: see the module docstring).

        Raises:
            RuntimeError: an earlier iteration of this loader is still running.
        """
        self._check_idle()
        sampler = self.sampler
        if sampler.epoch_pinned:  # set_epoch / sampler.set_epoch / load_state_dict
            epoch = sampler.epoch
        elif self._started:
            epoch, self._resume_at = self.epoch + 1, 0
        else:
            epoch = self.epoch
        sampler.epoch, sampler.epoch_pinned, self._started = epoch, False, True
        self.epoch, start = epoch, self._resume_at
        self._resume_at, self._batches_seen = 0, start
        self._plan.start_batch = start
        return self._run(epoch)

    def _check_idle(self) -> None:
        if self.running:
            raise RuntimeError(
                "This loader is already running an epoch: an iterator from an earlier "
                "iter(loader) is still open, and one loader (its workers, its shared batch "
                "memory) serves one iteration at a time. Exhaust or close the first iterator "
                "(leave its for loop, call .close() on it or drop it) before iterating again, "
                "or build a second loader with make_loader for concurrent passes."
            )

    def _run(self, epoch: int) -> Iterator[Any]:
        self._check_idle()
        self._running, self._epoch_skipped, completed = True, [], False
        batches = iter(self._dataloader)
        self._plan.start_batch = 0
        try:
            for out, idx, number in self._prefetcher.iterate(batches, self._prepare):
                self._batches_seen = number + 1
                yield self._format(out, idx)
            completed = True
        except GeneratorExit:  # the caller left the epoch early: the workers stay usable
            raise
        except BaseException:  # errors, KeyboardInterrupt: no worker may outlive them
            self._release_workers(batches)
            raise
        finally:
            self._running = False  # a caller that took the last batch did finish the epoch
            self._finish_epoch(epoch, completed or self._batches_seen >= len(self))

    def _release_workers(self, batches: Iterator[Any]) -> None:
        """Stop the workers now, after an error.

        A caller that keeps the exception (pytest, notebooks) keeps its traceback, and with it
        this loader, alive until the cyclic GC collects it (``_shutdown`` then stops the
        workers); no worker should idle that long after an error. The next ``iter()`` starts
        fresh workers.
        """
        _shutdown(self._dataloader, batches)

    def _finish_epoch(self, epoch: int, completed: bool) -> None:
        """Publish the epoch's skipped samples (also when it ended early) and warn once."""
        self.skipped = self._epoch_skipped
        if self.skipped:
            when = "" if completed else f" (the epoch stopped after {self._batches_seen} batches)"
            warnings.warn(
                f"Skipped {len(self.skipped)} image(s) that could not be read in epoch "
                f"{epoch}{when} (on_error='skip'); their batches are smaller. First: "
                f"{self.skipped[0][1]!r} (index {self.skipped[0][0]}).",
                UserWarning, stacklevel=3,
            )

    def _prepare(self, fb: FetchedBatch) -> tuple[tuple[torch.Tensor, ...], torch.Tensor, int] | None:
        """Transfer one fetched batch and finish it on ``self.device`` (None if it is empty)."""
        if fb.error is not None:
            raise _pop_error(fb)
        self._epoch_skipped.extend(fb.skipped)
        if fb.indices.size == 0:
            return None
        nb = self.device.type == "cuda"
        indices = torch.from_numpy(fb.indices)
        if fb.encoded is not None:  # decode_on="device": decode, join and stack here
            raw, indices, skipped = self._decoder.decode(fb.encoded, indices, self._fetcher.skip)
            self._epoch_skipped.extend(skipped)
            if len(indices) == 0:
                return None
            fb.payload = (raw,)
        idx = indices.to(self.device)
        if fb.slot is not None:  # the raw batch is in the shared ring; a non-CPU target copies
            # it out before the slot can be reused: pinning and pageable copies both return
            # once the source is read
            raw = self._slots.view(fb.slot, len(indices))
            pin = self.device.type != "cpu" and self._dataloader.pin_memory
            host = (raw.pin_memory() if pin else raw,)
        else:
            host = fb.payload
        # payload items are tensors, or lists of them (multi_output labels): map_tensors
        payload = map_tensors(lambda t: t.to(self.device, non_blocking=nb), tuple(host))
        if not fb.finished:  # host indices: label lookup and draws need no device sync
            out = self._pipeline.finish_batch(payload[0], indices, epoch=fb.epoch,
                                              **self._finish_kw)
            payload = out if isinstance(out, tuple) else (out,)
        if fb.slot is not None:  # the slot is reused: nothing yielded may share its memory
            payload = map_tensors(lambda t: t.clone() if self._slots.holds(t) else t, payload)
        if self.channels_last:
            payload = map_tensors(lambda t: t.contiguous(memory_format=torch.channels_last)
                                  if t.dim() == 4 else t, payload)
        return payload, idx, fb.batch_number

    def _format(self, out: tuple[torch.Tensor, ...], idx: torch.Tensor) -> Any:
        if self.return_indices:
            return (*out, idx)
        return out if len(out) > 1 else out[0]

    def get_batch(self, batch_number: int, epoch: int | None = None) -> Any:
        """Batch ``batch_number`` of ``epoch`` (default: ``self.epoch``), loaded in this process.

        Same pipeline and same tensors as the batch ``iter()`` yields at that position.

        Raises:
            IndexError: ``batch_number`` outside ``[0, len(self))``.
            ImageDecodeError: a file fails and the dataset's ``on_error`` is "raise".
        """
        request = self._plan.batch(batch_number, self.epoch if epoch is None else epoch)
        prepared = self._prepare(self._fetcher[request])
        if prepared is None:
            return self._format(self.empty_batch(), torch.empty(0, dtype=torch.int64,
                                                                 device=self.device))
        return self._format(prepared[0], prepared[1])

    def empty_batch(self) -> tuple[torch.Tensor, ...]:
        """A zero-sample batch with the dataset's per-sample shapes and dtypes.

        Raises:
            ValueError: the dataset has no fixed ``image_shape``.
        """
        shape = raw_shape(self.dataset)
        if shape is None:
            raise ValueError("An empty batch needs a dataset with a fixed `image_shape`.")
        raw = torch.empty((0, *shape), dtype=torch.uint8, device=self.device)
        out = self._pipeline.finish_batch(raw, torch.empty(0, dtype=torch.int64,
                                                           device=self.device), augment=False)
        return out if isinstance(out, tuple) else (out,)

    def state_dict(self) -> dict[str, int]:
        """Position to resume from: epoch and batches already yielded in it, plus the seed."""
        if self.sampler.epoch_pinned or not self._started:
            epoch, seen = self.sampler.epoch, self._resume_at
        else:
            epoch, seen = self.epoch, self._batches_seen
        return {"epoch": epoch, "batches_seen": seen, "seed": self.seed,
                "num_replicas": self.sampler.num_replicas, "rank": self.sampler.rank,
                "batch_size": self.batch_size}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Make the next ``iter()`` continue at the first batch not yet seen.

        The shuffle seed is taken from ``state``; augmentation draws come from the dataset's
        own seed, which must be the same for identical pixels.

        Raises:
            ValueError: missing keys, or a different world size or batch size.
        """
        missing = [k for k in _STATE_KEYS if k not in state]
        if missing:
            raise ValueError(f"`state` is missing keys {missing}. Received: state={state!r}")
        for key, mine in (("num_replicas", self.sampler.num_replicas),
                          ("batch_size", self.batch_size)):
            if int(state[key]) != mine:
                raise ValueError(f"Cannot resume: the state has {key}={state[key]}, this loader "
                                 f"has {key}={mine}.")
        self._set_seed(int(state["seed"]))
        epoch, seen = int(state["epoch"]), int(state["batches_seen"])
        if seen >= len(self):
            epoch, seen = epoch + 1, 0
        self.set_epoch(epoch)
        self._resume_at = seen

    def _set_seed(self, seed: int) -> None:
        """The shuffle seed, and the augmentation seed where it follows the loader's."""
        changed = seed != self.sampler.seed
        self.sampler.seed = seed
        if changed and self._seeds_augment:
            self._pipeline.seed = seed
            if self._fetcher.finish_in_worker:  # persistent workers hold the old seed
                self._release_workers(getattr(self._dataloader, "_iterator", None))

    def __repr__(self) -> str:
        return (f"DeviceLoader(batches={len(self)}, batch_size={self.batch_size}, "
                f"device={str(self.device)!r}, num_workers={self.num_workers}, seed={self.seed})")

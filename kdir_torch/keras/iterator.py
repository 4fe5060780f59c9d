"""Keras's legacy ``Iterator`` protocol over any kdir_torch dataset (keras-semantics §A6).

``LoaderIterator`` is what ``DirectoryIterator`` (and every other ``flow_*`` iterator) is made
of: a dataset built without augmentation, plus ``make_loader`` with ``augment=`` the
generator's ``transform_batch`` (augment then standardize, §A7). It keeps Keras's protocol:
``len(it)``, ``it[i]``, infinite ``next(it)`` with a partial last batch that never crosses the
epoch boundary, ``reset()``, ``on_epoch_end()``, ``batch_index``, ``total_batches_seen``,
``index_array``. A subclass builds its dataset and calls ``LoaderIterator.__init__``; the
dataset's ``finish_batch`` decides what a batch holds (``(x, y)``, ``(x, y, w)`` or ``x``).

Differences from Keras, by design:

* ``for batch in it`` runs exactly **one epoch** (``reset()`` then ``len(it)`` calls of
  ``next``), the PyTorch habit; Keras's ``for`` loop never ends. ``next(it)`` is infinite as
  in Keras.
* Batches are torch tensors (Keras: numpy arrays) with Keras's shapes and dtypes for the
  ``data_format``. They live on ``device`` (CPU by default).
* Randomness is ours: the order of epoch ``e`` is ``torch.randperm`` from
  ``(seed, e)`` and augmentation draws are keyed by ``(seed, e, sample index)``; Keras's
  global-numpy streams are not reproduced and the global numpy RNG is never touched. Every
  rebuild of ``index_array`` (where Keras draws a new permutation: start of a ``next()``
  epoch, ``on_epoch_end()``, first ``it[i]``) starts a new epoch number ``it.epoch``.
* ``it[idx]`` with a negative ``idx`` raises the same ValueError as ``idx >= len(it)``
  (Keras silently returns an empty or wrong slice, §A6).
* After a batch fails (``ImageDecodeError``), the next ``next(it)`` goes on with the batch
  after it, as Keras.
* Batches are loaded under the iterator's lock, by the loader: ``next(it)`` and in-order
  ``it[0], it[1], ...`` (as ``model.fit`` asks for them) come from one pass of the loader, so
  its ``num_workers`` decode ahead; any other ``it[i]`` is loaded in the calling process.
  Either way ``it[i]`` is the same batch.

Keras 3: ``model.fit(it)``, ``evaluate(it)`` and ``predict(it)`` accept every
``LoaderIterator`` (``keras_fit.py`` explains how; nothing here imports Keras).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

from kdir_torch._rng import resolve_seed
from kdir_torch._validation import check_on_error
from kdir_torch.keras import keras_fit
from kdir_torch.keras.save import save_batch
from kdir_torch.loader import CallableAugment, DeviceLoader, checks, make_loader
from kdir_torch.loader.device_decode import check_decode_request
from kdir_torch.loader.factory import DEFAULT_TIMEOUT

__all__ = ["LoaderIterator", "check_loader_args", "forward_attributes", "list_attributes"]

keras_fit.install()  # Keras 3 model.fit(it) for every LoaderIterator; imports nothing


class _GeneratorTransform:
    """``fn(x, indices, *, epoch, seed)`` -> ``generator.transform_batch`` (picklable)."""

    def __init__(self, generator: Any) -> None:
        self.generator = generator

    def __call__(self, x: torch.Tensor, indices: torch.Tensor, *, epoch: int,
                 seed: int | None) -> torch.Tensor:
        return self.generator.transform_batch(x, indices, seed=seed, epoch=epoch)


def check_loader_args(batch_size: Any, shuffle: Any, seed: Any, num_workers: Any,
                      device: Any, pin_memory: Any, timeout: Any, on_error: Any,
                      decode_on: Any = "host") -> None:
    """The loader's own checks, run before a dataset touches the disk (DESIGN.md)."""
    checks.check_int("batch_size", batch_size, 1)
    checks.check_bool("shuffle", shuffle)
    resolve_seed(seed)
    dev = checks.resolve_device(device)
    checks.dataloader_options(num_workers, pin_memory, dev, None, None, timeout)
    check_on_error(on_error)
    check_decode_request(decode_on, dev)


def _empty_batch(loader: DeviceLoader) -> tuple[torch.Tensor, ...]:
    return (*loader.empty_batch(), torch.empty(0, dtype=torch.int64))


def _numbered(loader: DeviceLoader, epoch: int, start: int) -> Iterator[tuple[torch.Tensor, ...]]:
    """Batches ``start, start + 1, ...`` of ``epoch`` (with indices) from one loader pass.

    A batch the loader leaves out (all its samples skipped under ``on_error="skip"``) comes
    out empty, so positions stay those of ``it[i]``. (A function, not a method: a generator
    holding the iterator would put it in a reference cycle, and a pool of workers collected
    by the cyclic GC shuts down slowly.)
    """
    state = loader.state_dict()
    state.update(epoch=epoch, batches_seen=start)
    loader.load_state_dict(state)
    expected = start
    for batch in loader:
        number = loader.state_dict()["batches_seen"] - 1
        for _ in range(expected, number):
            yield _empty_batch(loader)
        yield batch
        expected = number + 1
    for _ in range(expected, len(loader)):
        yield _empty_batch(loader)


class LoaderIterator:
    """Keras's ``Iterator`` protocol (§A6) over ``dataset``, augmented by a generator.

    Args:
        dataset: a kdir_torch dataset built without augmentation (``self.dataset``).
        image_data_generator: the ``ImageDataGenerator`` whose ``transform_batch`` augments
            and standardizes.
        batch_size: samples per batch. shuffle: new order each epoch.
        seed: order and augmentation seed; None draws a fresh one (``it.seed`` stays None).
        save_to_dir, save_prefix, save_format: save every yielded image (§A13).
        num_workers: decoding processes for ``next()``/``for`` (0 = in this process).
        device: where batches are delivered (None = CPU). pin_memory: None = CUDA only.
        timeout: seconds one sample read may take, any ``num_workers`` (0 = no limit).
        decode_on: "host" or "device" (JPEGs decoded on the CUDA ``device``; see
            ``kt.make_loader``).
    """

    save_hash_range = 10**7  # ``save_to_dir`` file-name hashes (Keras: 1e7; arrays: 1e4)

    def __init__(
        self, dataset: Any, image_data_generator: Any, batch_size: int = 32,
        shuffle: bool = True, seed: int | None = None, save_to_dir: str | None = None,
        save_prefix: str = "", save_format: str = "png", num_workers: int = 0,
        device: str | torch.device | None = None, pin_memory: bool | None = None,
        timeout: float = DEFAULT_TIMEOUT, decode_on: str = "host",
    ) -> None:
        gen = image_data_generator
        self.image_data_generator, self.dataset = gen, dataset
        self.loader: DeviceLoader = make_loader(
            dataset, batch_size=batch_size, shuffle=shuffle, seed=seed,
            num_workers=num_workers, device=device, pin_memory=pin_memory, timeout=timeout,
            augment=CallableAugment(_GeneratorTransform(gen), seed=seed, seeded=True),
            return_indices=True, decode_on=decode_on,
        )  # seed=None: transform_batch falls back to the generator's own seed
        self.save_to_dir, self.save_prefix, self.save_format = save_to_dir, save_prefix, save_format
        self.n, self.batch_size, self.shuffle, self.seed = len(dataset), batch_size, shuffle, seed
        self.batch_index, self.total_batches_seen = 0, 0
        self.index_array: np.ndarray | None = None
        self.epoch = -1
        self.lock = threading.Lock()
        self._live: Iterator[Any] | None = None  # a pass of the loader over ``self.epoch``
        self._live_at: tuple[int, int] | None = None  # (epoch, batch) it yields next
        self._last_item: tuple[int, int] | None = None  # (epoch, idx) of the last ``it[idx]``

    @property
    def sample_weight(self) -> Any:
        """Per-sample weights, or None (directories have none, §A4)."""
        return None

    def __len__(self) -> int:
        """``ceil(n / batch_size)`` (§A6)."""
        return (self.n + self.batch_size - 1) // self.batch_size

    # -- epochs -------------------------------------------------------------------------------
    def _set_index_array(self) -> None:
        """Start a new epoch: its order becomes ``index_array`` (where Keras reshuffles)."""
        self.epoch += 1
        self.index_array = self.loader.sampler.permutation(self.epoch)
        self._live = None

    def on_epoch_end(self) -> None:
        """New order for the next ``it[i]`` pass (Keras's ``PyDataset`` hook, §A6)."""
        self._set_index_array()

    def reset(self) -> None:
        """Next ``next(it)`` starts a new epoch (``total_batches_seen`` is kept, §A6)."""
        self.batch_index = 0

    # -- protocols ----------------------------------------------------------------------------
    def __getitem__(self, idx: int) -> Any:
        """Batch ``idx`` of the current order (§A6 Sequence protocol).

        Raises:
            ValueError: ``idx`` outside ``[0, len(self))`` (Keras's text).
        """
        if idx >= len(self) or idx < 0:
            raise ValueError(
                f"Asked to retrieve element {idx}, but the Sequence has length {len(self)}"
            )
        with self.lock:
            if self.index_array is None:
                self._set_index_array()
            counter = self.total_batches_seen
            self.total_batches_seen += 1
            in_order = idx == 0 or self._last_item == (self.epoch, idx - 1)
            self._last_item = (self.epoch, idx)
            batch = self._batch(idx, stream=in_order and self.loader.num_workers > 0)
        return self._deliver(batch, counter)

    def __next__(self) -> Any:
        """Next batch of the infinite stream (§A6 generator protocol)."""
        with self.lock:
            if self.batch_index == 0:
                self._set_index_array()
            number = self.batch_index
            self.batch_index = number + 1 if (number + 1) * self.batch_size < self.n else 0
            counter = self.total_batches_seen
            self.total_batches_seen += 1
            batch = self._batch(number, stream=True) if self.n else self._empty()
        return self._deliver(batch, counter)

    def __iter__(self) -> Iterator[Any]:
        """Exactly one epoch: ``reset()``, then ``len(it)`` batches of ``next(it)``."""
        self.reset()
        for _ in range(len(self)):
            yield next(self)

    def _batch(self, number: int, stream: bool) -> tuple[torch.Tensor, ...]:
        """Batch ``number`` of ``self.epoch`` with its indices (the caller holds the lock).

        From the loader's running pass when it is at ``number``; else from a new pass started
        there (``stream``) or loaded in this process. A failed batch ends the pass: the next
        call starts another at the batch it asks for (``next(it)``: the one after, as Keras).
        """
        if self._live is None or self._live_at != (self.epoch, number):
            if not stream:
                return self.loader.get_batch(number, self.epoch)
            self._live = None  # ends the old pass before the loader starts the new one
            self._live = _numbered(self.loader, self.epoch, number)
        try:
            batch = next(self._live)
        except Exception:
            self._live = None
            raise
        self._live_at = (self.epoch, number + 1)
        if number + 1 == len(self):  # end the pass with its epoch: the loader is free, and
            live, self._live = self._live, None  # reports skipped files now, not when collected
            next(live, None)
        return batch

    def _empty(self) -> tuple[torch.Tensor, ...]:
        return _empty_batch(self.loader)

    def _deliver(self, batch: tuple[Any, ...], counter: int) -> Any:
        """Save if asked (§A13), then drop the indices: ``(x, y)``, ``(x, y, w)`` or ``x``."""
        *out, indices = batch
        if self.save_to_dir:
            images = out[0][0] if isinstance(out[0], list) else out[0]  # [x, *misc] (§A15)
            save_batch(images, indices, self.save_to_dir, self.save_prefix, self.save_format,
                       self.dataset.data_format, (self.loader.seed, counter),
                       self.save_hash_range)
        return tuple(out) if len(out) > 1 else out[0]

    # -- Keras 3 -------------------------------------------------------------------------------
    def as_pydataset(self) -> Any:
        """This iterator as a ``keras.utils.PyDataset`` (imports Keras 3).

        ``model.fit(it)``, ``evaluate(it)`` and ``predict(it)`` call this by themselves
        (``keras_fit.py``); call it directly where Keras's input hook is not installed
        (a Keras without ``get_data_adapter``). Batches are this iterator's ``it[i]`` (torch tensors;
        an ``x``-only batch as ``(x,)``) and Keras's ``on_epoch_end`` is this iterator's.
        """
        return keras_fit.pydataset_view(self)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(n={self.n}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed})")


def list_attributes(cls: type, names: tuple[str, ...]) -> None:
    """Give ``cls`` ``list`` properties ``name -> self.dataset.name.tolist()``, built once on
    first access (Keras's iterators hold plain lists, so ``json.dump``, ``+`` and numpy fancy
    indexing work; the dataset keeps its compact table, and workers never build the lists)."""
    for name in names:
        prop = functools.cached_property(
            lambda self, name=name: getattr(self.dataset, name).tolist())
        prop.__set_name__(cls, name)
        prop.__doc__ = f"``dataset.{name}`` as a ``list`` of ``str`` (Keras's attribute, §A4)."
        setattr(cls, name, prop)


def forward_attributes(cls: type, names: tuple[str, ...]) -> None:
    """Give ``cls`` read-only properties ``name -> self.dataset.name`` (Keras's attributes)."""
    for name in names:
        setattr(cls, name, property(
            lambda self, name=name: getattr(self.dataset, name),
            doc=f"``dataset.{name}`` (Keras's iterator attribute, §A4)."))

"""Keras 3 ``model.fit(it)`` / ``evaluate(it)`` / ``predict(it)`` for every ``LoaderIterator``.

How Keras 3 reads its input: ``Model.fit`` builds an ``EpochIterator``, which asks
``keras.src.trainers.data_adapters.get_data_adapter(x, y, sample_weight, ..., shuffle,
class_weight)`` for an adapter. That function recognises arrays, ``tf.data``,
``keras.utils.PyDataset`` (Keras's own legacy iterators are ``PyDataset`` subclasses), torch
``DataLoader``, grain and Python generators; anything else is ``ValueError: Unrecognized data
type``. A ``PyDataset`` is read through ``PyDatasetAdapter``: ``on_epoch_begin``, then
``ds[i]`` for ``i`` in ``range(len(ds))`` (in a random order when ``fit``'s ``shuffle=True``),
then ``on_epoch_end``; ``class_weight`` becomes sample weights; on the torch backend the
batches stay torch tensors (Keras only moves them to its device).

What we do: Keras is never imported here. When Keras's data-adapter module is (or becomes)
loaded, its ``get_data_adapter`` is wrapped once so that a ``LoaderIterator`` is handed on
as ``it.as_pydataset()``: a real ``keras.utils.PyDataset`` whose ``ds[i]`` is ``it[i]`` (an
``x``-only batch as ``(x,)``, which Keras requires of a ``PyDataset``, and ``[x, *misc]`` as
the inputs of a multi-input model) and whose ``on_epoch_end`` is the iterator's (a new order
per epoch, as Keras's own iterators). Everything else is Keras's own code path: the checks
(``y`` must not be passed), ``class_weight``, ``steps_per_epoch``, every backend. If the module
is not loaded yet, a ``sys.meta_path`` finder waits for it, wraps it right after it executes
and removes itself; it does nothing for any other import.

One deliberate change: for an iterator with ``shuffle=True``, which already draws a new
sample order every epoch, ``fit``'s batch-order shuffle is turned off. The model then asks
for ``it[0], it[1], ...`` in order, which the iterator serves from one pass of its loader
(its ``num_workers`` decode ahead) instead of loading each batch on its own. Every epoch
still sees every sample once, in a fresh order. An iterator with ``shuffle=False`` gets
Keras's batch-order shuffle, as Keras's own iterators do.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["PostImportHook", "install", "keras_batch", "pydataset_view"]

ADAPTERS_MODULE = "keras.src.trainers.data_adapters"
_MARK = "__kdir_torch_hook__"


def keras_batch(batch: Any) -> tuple[Any, ...]:
    """A ``LoaderIterator`` batch in the form a ``PyDataset`` must return.

    Args:
        batch: ``x``, ``[x, *misc]``, ``(x, y)`` or ``(x, y, w)``.

    Returns:
        ``(x,)``, ``([x, *misc],)``, or the tuple unchanged.
    """
    return batch if isinstance(batch, tuple) else (batch,)


@functools.cache
def _view_class() -> type:
    from keras.utils import PyDataset  # Keras is being used: importing it costs nothing

    class LoaderPyDataset(PyDataset):
        """A ``LoaderIterator`` seen as a ``keras.utils.PyDataset`` (see ``keras_fit.py``)."""

        def __init__(self, iterator: Any) -> None:
            super().__init__(workers=1, use_multiprocessing=False, max_queue_size=10)
            self.iterator = iterator

        def __len__(self) -> int:
            return len(self.iterator)

        def __getitem__(self, idx: int) -> tuple[Any, ...]:
            return keras_batch(self.iterator[idx])

        def on_epoch_end(self) -> None:
            self.iterator.on_epoch_end()

        def __repr__(self) -> str:
            return f"LoaderPyDataset({self.iterator!r})"

    return LoaderPyDataset


def pydataset_view(iterator: Any) -> Any:
    """``iterator`` as a ``keras.utils.PyDataset`` (imports Keras).

    Args:
        iterator: a ``LoaderIterator``.

    Returns:
        A ``PyDataset`` of ``len(iterator)`` batches, ``ds[i] = keras_batch(iterator[i])``.
    """
    return _view_class()(iterator)


def _wrap(original: Callable[..., Any]) -> Callable[..., Any]:
    """``get_data_adapter`` that hands a ``LoaderIterator`` on as its ``PyDataset`` view."""
    signature = inspect.signature(original)

    @functools.wraps(original)
    def get_data_adapter(*args: Any, **kwargs: Any) -> Any:
        from kdir_torch.keras.iterator import LoaderIterator

        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:  # let Keras report its own argument error
            return original(*args, **kwargs)
        x = bound.arguments.get("x")
        if isinstance(x, LoaderIterator):
            bound.arguments["x"] = x.as_pydataset()
            if x.shuffle and bound.arguments.get("shuffle"):
                bound.arguments["shuffle"] = False  # see the module docstring
        return original(*bound.args, **bound.kwargs)

    setattr(get_data_adapter, _MARK, True)
    return get_data_adapter


def patch(module: Any) -> bool:
    """Wrap ``module.get_data_adapter`` once; False when the module has none."""
    original = getattr(module, "get_data_adapter", None)
    if original is None:
        return False
    if not getattr(original, _MARK, False):
        module.get_data_adapter = _wrap(original)
    return True


class _CallbackLoader:
    """Delegating loader that runs ``callback(module)`` right after the module executes."""

    def __init__(self, loader: Any, callback: Callable[[Any], Any]) -> None:
        self._loader, self._callback = loader, callback

    def create_module(self, spec: Any) -> Any:
        return self._loader.create_module(spec)

    def exec_module(self, module: Any) -> None:
        self._loader.exec_module(module)
        self._callback(module)

    def __getattr__(self, name: str) -> Any:  # get_source, get_filename, is_package, ...
        return getattr(self._loader, name)


class PostImportHook:
    """A ``sys.meta_path`` finder that calls ``callback(module)`` once ``name`` is imported.

    It finds nothing itself: it asks the other finders for ``name``'s spec and wraps that
    spec's loader, then removes itself from ``sys.meta_path``. Other names are ignored.

    Args:
        name: full module name to wait for.
        callback: called with the executed module.
    """

    def __init__(self, name: str, callback: Callable[[Any], Any]) -> None:
        self.name, self.callback = name, callback

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        if name != self.name:
            return None
        for finder in [f for f in sys.meta_path if f is not self]:
            find = getattr(finder, "find_spec", None)
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = _CallbackLoader(spec.loader, self._fire)
        return spec

    def _fire(self, module: Any) -> None:
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        self.callback(module)


def install() -> None:
    """Wrap Keras's ``get_data_adapter`` now if it is loaded, else as soon as it is imported."""
    module = sys.modules.get(ADAPTERS_MODULE)
    if module is not None:
        patch(module)
    elif not any(isinstance(f, PostImportHook) and f.name == ADAPTERS_MODULE
                 for f in sys.meta_path):
        sys.meta_path.insert(0, PostImportHook(ADAPTERS_MODULE, patch))

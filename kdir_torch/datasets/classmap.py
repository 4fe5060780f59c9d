"""Class bookkeeping shared by every dataset: class arrays, balanced class weights, predictions
decoded to class names, and the ``{name: index}`` mapping saved as JSON for deployment.

``ClassMapMixin`` gives the modern dataset the legacy attribute names (``filenames``,
``filepaths``, ``classes``, ``class_indices``) so that splits, balanced loaders and
``kt.class_weights`` treat both kinds alike, and gives every dataset ``decode_predictions``
and ``save_class_indices``. The legacy dataset's own attributes take precedence.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def class_names_of(dataset: Any) -> list[str] | None:
    """The dataset's class names in index order, or None when it has none."""
    names = getattr(dataset, "class_names", None)
    return None if names is None else [str(n) for n in names]


def class_array(dataset: Any, purpose: str = "this") -> np.ndarray:
    """The ``(N,)`` int class index of every sample, aligned with ``filenames``.

    Args:
        dataset: a kdir_torch dataset (legacy ``classes``; modern integer ``labels`` with
            ``class_names``).
        purpose: what needs the classes (for the error message).

    Returns:
        ``np.int32`` array (read it, do not write it).

    Raises:
        ValueError: the dataset carries no class per sample (a modern dataset without labels
            or with float labels).
    """
    classes = getattr(dataset, "classes", None)
    if isinstance(classes, np.ndarray) and classes.dtype.kind in "iu" and classes.ndim == 1:
        return classes.astype(np.int32, copy=False)
    raise ValueError(
        f"{purpose} needs the class of every sample, but {type(dataset).__name__} has none "
        "(a modern dataset built with label_mode=None, labels=None or float labels). "
        "Build it with inferred labels."
    )


def class_weights(dataset: Any, as_tensor: bool = False) -> dict[int, float] | torch.Tensor:
    """"Balanced" class weights ``n_samples / (n_classes * count)``.

    ``n_classes`` counts the classes that have samples, so the weights of all samples add up
    to ``n_samples``; a class without samples gets weight 0.0 (it never occurs as a target).

    Args:
        dataset: a kdir_torch dataset, split part or ``torch.utils.data.Subset`` of one.
        as_tensor: return a ``(num_classes,)`` float32 tensor (for
            ``torch.nn.CrossEntropyLoss(weight=...)``) instead of a dict.

    Returns:
        ``{class_index: weight}`` for every class (the form Keras's ``fit(class_weight=...)``
        takes), or the float32 tensor.

    Raises:
        ValueError: the dataset carries no classes.
    """
    from .subsets import require_dataset  # subsets imports this module

    ds = require_dataset(dataset, "kt.class_weights")
    cls = class_array(ds, "class_weights")
    names = class_names_of(ds) or []
    counts = np.bincount(cls, minlength=len(names)).astype(np.float64)
    present = int((counts > 0).sum())
    weights = np.zeros_like(counts)
    np.divide(len(cls), present * counts, out=weights, where=counts > 0)
    if as_tensor:
        return torch.from_numpy(weights.astype(np.float32))
    return {int(c): float(w) for c, w in enumerate(weights)}


def _as_scores(predictions: Any, num_classes: int) -> torch.Tensor:
    """``(N, K)`` float64 CPU scores; a ``(N,)`` / ``(N, 1)`` sigmoid output of a 2-class
    dataset becomes ``[1 - p, p]``."""
    p = predictions if isinstance(predictions, torch.Tensor) else torch.as_tensor(
        np.asarray(predictions))
    p = p.detach().to("cpu", torch.float64)
    if num_classes == 2 and (p.ndim == 1 or (p.ndim == 2 and p.shape[1] == 1)):
        p = p.reshape(-1, 1)
        p = torch.cat([1.0 - p, p], dim=1)
    if p.ndim != 2 or p.shape[1] != num_classes:
        raise ValueError(
            "`decode_predictions` expects a batch of predictions (i.e. a 2D array of shape "
            f"(samples, {num_classes})). Received array with shape: {tuple(p.shape)}"
        )
    return p


def decode_predictions(predictions: Any, class_names: Sequence[str],
                       top: int = 5) -> list[list[tuple[str, float]]]:
    """Per sample, the ``top`` best ``(class_name, score)`` pairs, best first.

    Args:
        predictions: ``(N, K)`` scores (tensor or array-like) for ``K = len(class_names)``;
            a ``(N,)`` or ``(N, 1)`` sigmoid output when there are exactly 2 classes.
        class_names: names in class-index order.
        top: pairs per sample (at most ``K``); equal scores keep class order.

    Returns:
        ``N`` lists of ``min(top, K)`` ``(str, float)`` tuples.

    Raises:
        TypeError: ``top`` is not an int. ValueError: ``top < 1`` or a wrong shape.
    """
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)):
        raise TypeError(f"`top` must be an integer. Received: top={top!r}")
    if top < 1:
        raise ValueError(f"`top` must be >= 1. Received: top={top}")
    names = list(class_names)
    scores = _as_scores(predictions, len(names))
    k = min(int(top), len(names))
    values, order = torch.sort(scores, dim=1, descending=True, stable=True)
    values, order = values[:, :k].tolist(), order[:, :k].tolist()
    return [[(names[j], v) for j, v in zip(row_j, row_v)] for row_j, row_v in zip(order, values)]


def class_indices_of(dataset: Any) -> dict[str, int]:
    """``{name: index}`` of the dataset (``class_indices``, else built from ``class_names``)."""
    indices = getattr(dataset, "class_indices", None)
    if indices is None:
        raise ValueError(f"{type(dataset).__name__} has no class names to save.")
    return {str(k): int(v) for k, v in indices.items()}


def save_class_indices(class_indices: dict[str, int], path: str | os.PathLike) -> None:
    """Write ``{name: index}`` as a plain JSON object, in index order."""
    ordered = dict(sorted(class_indices.items(), key=lambda kv: kv[1]))
    with open(path, "w", encoding="utf-8") as fh:
        json.dump(ordered, fh, indent=2)
        fh.write("\n")


def load_class_indices(path: str | os.PathLike) -> dict[str, int]:
    """Read a mapping written by ``ds.save_class_indices`` (any JSON ``{name: index}``).

    Args:
        path: the JSON file.

    Returns:
        ``{class_name: class_index}`` in index order.

    Raises:
        ValueError: the file is not a JSON object of string keys and integer values >= 0.
    """
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict) or not all(
            isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v >= 0
            for k, v in data.items()):
        raise ValueError(f"{os.fspath(path)!r} does not hold a JSON object "
                         f"{{class_name: index >= 0}}. Received: {str(data)[:200]}")
    return dict(sorted(data.items(), key=lambda kv: kv[1]))


class ClassMapMixin:
    """Workflow methods on every dataset, and legacy names for the modern dataset's fields."""

    @property
    def filepaths(self) -> Any:
        """Full path of every sample (the modern dataset's ``file_paths``)."""
        try:
            return self.__dict__["file_paths"]
        except KeyError:
            raise AttributeError("filepaths") from None

    filenames = filepaths  # a modern dataset only knows full paths

    @property
    def classes(self) -> np.ndarray | None:
        """``np.int32`` class index per sample (the modern dataset's inferred ``labels``)."""
        labels = self.__dict__.get("labels")
        if (isinstance(labels, np.ndarray) and labels.dtype.kind in "iu"
                and self.__dict__.get("class_names") is not None):
            return labels
        return None

    @property
    def class_indices(self) -> dict[str, int] | None:
        """``{name: index}`` built from ``class_names`` (None without classes)."""
        names = self.__dict__.get("class_names")
        return None if names is None else dict(zip(names, range(len(names))))

    @property
    def class_to_idx(self) -> dict[str, int]:
        """torchvision's ``class_to_idx``: a copy of ``class_indices`` (empty without classes)."""
        return dict(self.class_indices or {})

    def decode_predictions(self, predictions: Any, top: int = 5) -> list[list[tuple[str, float]]]:
        """Per sample, the ``top`` best ``(class_name, score)`` pairs, best first.

        Args:
            predictions: ``(N, num_classes)`` scores, e.g. ``kt.predict(model, ds)`` followed
                by a softmax (or a ``(N,)`` / ``(N, 1)`` sigmoid output for 2 classes).
            top: pairs per sample (at most ``num_classes``).

        Returns:
            ``N`` lists of ``(str, float)`` tuples (see ``classmap.decode_predictions``).
        """
        names = class_names_of(self)
        if names is None:
            raise ValueError(f"{type(self).__name__} has no class names to decode with.")
        return decode_predictions(predictions, names, top)

    def save_class_indices(self, path: str | os.PathLike) -> None:
        """Write ``class_indices`` as plain JSON ``{name: index}`` (``kt.load_class_indices``
        reads it back), so a deployed model keeps its class mapping."""
        save_class_indices(class_indices_of(self), path)

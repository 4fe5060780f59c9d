"""``kt.concat``: datasets built with the same settings, as one dataset (classes merged by name).

The result is a dataset of the inputs' class holding their samples one after the other (the
``torch.utils.data.ConcatDataset`` order). Classes are merged by name (see
``kdir_torch.index.roots``): the common class list when every input has the same one, else the
sorted union, or ``classes=``; labels are remapped to it. Legacy file names are relative to the
common parent folder of the inputs (``<root>/<class>/<file>``, unambiguous; Keras's
``<class>/<file>`` when every input comes from the same root) and ``filepaths`` are absolute.
A file present in two inputs is a ``ValueError``. Augmentation draws of the result are keyed by
its own sample positions.
"""

from __future__ import annotations

import copy
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..cache import drop_cache
from ..index import StringTable
from ..index.roots import check_unique, merge_indexes, merged_class_names, remap, resolved
from .subsets import KeyedAugment, require_dataset

_LEGACY_SETTINGS = ("target_size", "color_mode", "class_mode", "interpolation",
                    "keep_aspect_ratio", "data_format", "dtype", "image_shape", "on_error",
                    "seed", "augment", "standardize", "transform", "target_transform",
                    "label_dtype", "jpeg_draft")
_MODERN_SETTINGS = ("label_mode", "color_mode", "image_size", "interpolation",
                    "crop_to_aspect_ratio", "pad_to_aspect_ratio", "data_format", "image_shape",
                    "on_error", "seed", "augment", "standardize", "transform",
                    "target_transform", "label_dtype", "jpeg_draft")
_BY_IDENTITY = ("augment", "standardize", "transform", "target_transform")


def _setting(ds: Any, name: str) -> Any:
    value = getattr(ds, name, None)
    return value.inner if isinstance(value, KeyedAugment) else value


def _check_same_settings(datasets: Sequence[Any], names: Sequence[str]) -> None:
    first = datasets[0]
    for k, ds in enumerate(datasets[1:], 1):
        if type(ds) is not type(first):
            raise TypeError(f"kt.concat needs datasets of one kind; dataset 0 is a "
                            f"{type(first).__name__}, dataset {k} a {type(ds).__name__}.")
        for name in names:
            a, b = _setting(first, name), _setting(ds, name)
            same = a is b if name in _BY_IDENTITY else a == b
            if not same:
                raise ValueError(
                    f"kt.concat needs datasets built with the same settings, but `{name}` "
                    f"differs: dataset 0 has {name}={a!r}, dataset {k} has {name}={b!r}"
                    + (" (pass the same object to both)" if name in _BY_IDENTITY else "")
                )


def _fresh(first: Any) -> Any:
    """A shallow copy of ``first`` with its own epoch cell and no split bookkeeping."""
    out = copy.copy(first)
    if drop_cache(out):  # its rows are the first input's samples, not the result's
        warnings.warn("kt.concat does not carry the inputs' decoded caches over: the result "
                      "decodes every file (cache the inputs' files with a dataset built on "
                      "all their roots instead).", UserWarning, stacklevel=4)
    out.__dict__.pop("_epoch_cell", None)
    out.__dict__.pop("parent_indices", None)
    out.epoch = 0
    out.augment = _setting(first, "augment")
    return out


def _concat_modern(datasets: Sequence[Any], classes: Sequence[str] | None) -> Any:
    out = _fresh(datasets[0])
    out.file_paths = StringTable.concat([resolved(ds.file_paths) for ds in datasets])
    check_unique(out.file_paths)
    labelled = [ds.labels is not None for ds in datasets]
    if not all(labelled):
        if any(labelled):
            raise ValueError("kt.concat cannot mix datasets with and without labels.")
        return out
    names_lists = [list(ds.class_names or []) for ds in datasets]
    names = merged_class_names(names_lists, classes)
    if all(n == names for n in names_lists):
        out.labels = np.concatenate([ds.labels for ds in datasets])
    else:  # labels are positions in each dataset's class_names (inferred labels)
        indices = dict(zip(names, range(len(names))))
        for ds, own in zip(datasets, names_lists):
            if ds.labels.dtype.kind not in "iu" or (ds.labels.size and (
                    ds.labels.min() < 0 or ds.labels.max() >= len(own))):
                raise ValueError("kt.concat merges classes by name, which needs labels that are "
                                 "class indices (inferred labels); got other label values.")
        out.labels = np.concatenate([remap(ds.labels, own, indices)
                                     for ds, own in zip(datasets, names_lists)])
    out.class_names, out.num_classes = names, len(names)
    return out


def concat(datasets: Sequence[Any], classes: Sequence[str] | None = None) -> Any:
    """One dataset holding the samples of ``datasets`` in order (see the module docstring).

    Args:
        datasets: kdir_torch datasets of one kind (legacy or modern), parts of them (e.g.
            from ``kt.split``) or ``torch.utils.data.Subset`` of them, all built with the same
            settings (sizes, modes, dtype, the same ``augment``/``standardize`` objects, ...).
        classes: the merged class list (must name every class of the inputs); None: the
            common list, or the sorted union of names when the inputs differ.

    Returns:
        A dataset of the inputs' class.

    Raises:
        TypeError: not a list of datasets of one kind.
        ValueError: an empty list, differing settings (the message names the setting), a
            ``classes`` list missing a class, or a file present twice.
    """
    if not isinstance(datasets, (list, tuple)):
        raise TypeError(f"`datasets` must be a list of datasets. Received: {datasets!r}")
    items = [require_dataset(ds, "kt.concat") for ds in datasets]
    if not items:
        raise ValueError("kt.concat needs at least one dataset. Received: datasets=[]")
    if hasattr(getattr(items[0], "index", None), "filenames"):
        _check_same_settings(items, _LEGACY_SETTINGS)
        out = _fresh(items[0])
        out.index = merge_indexes([ds.index for ds in items], classes)
        return out
    if hasattr(items[0], "file_paths"):
        _check_same_settings(items, _MODERN_SETTINGS)
        return _concat_modern(items, classes)
    raise TypeError(f"kt.concat cannot merge a {type(items[0]).__name__}: it needs kdir_torch "
                    "datasets (KerasDirDataset or ModernDirDataset).")

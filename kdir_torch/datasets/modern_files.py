"""File list, labels, global shuffle and split of ``image_dataset_from_directory`` (§B2–§B6).

These steps are Keras's ``dataset_utils.index_directory`` and
``get_training_or_validation_split`` on our compact ``StringTable`` storage. The seeded global
shuffle is Keras's exactly: ``perm = np.random.RandomState(seed).permutation(N)`` (a local
``RandomState``, never numpy's global state), so ``file_paths`` and the split membership equal
Keras's for the same seed. The split is the upstream-fixed one (§B5): ``num_val = int(v * N)``,
training = the first ``N - num_val`` files, validation = the last ``num_val``.
"""

from __future__ import annotations

import os
import reprlib
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np

from ..index import StringTable, index_directory


_INT32 = np.iinfo(np.int32)


class FileList(NamedTuple):
    """Files of a modern dataset, in dataset order.

    Attributes:
        paths: full paths (``os.path.join(directory, relative)``), a sequence of ``str``.
        labels: ``np.int32`` class indices (inferred), the caller's label values (explicit list,
            any sequence), or None (no labels).
        class_names: class names, or None without labels.
    """

    paths: StringTable
    labels: Any
    class_names: list[str] | None

    def __len__(self) -> int:
        return len(self.paths)

    def take(self, indices: np.ndarray) -> FileList:
        """The files at ``indices`` (int array), in that order."""
        indices = np.asarray(indices, dtype=np.int64)
        return FileList(self.paths.take(indices), _take_labels(self.labels, indices),
                        self.class_names)


def _take_labels(labels: Any, indices: np.ndarray) -> Any:
    if labels is None:
        return None
    if isinstance(labels, np.ndarray):
        return labels[indices]
    return [labels[i] for i in indices]


def _inferred(directory: str, class_names: Sequence[str] | None,
              follow_links: bool, verbose: bool = False) -> FileList:
    """Class sub-folders (§B2); an explicit empty ``class_names`` reads no folder."""
    if class_names is not None and len(class_names) == 0:
        os.listdir(directory)  # FileNotFoundError for a missing root, as Keras
        return FileList(StringTable.from_strings([]).with_prefix(directory),
                        np.zeros(0, np.int32), [])
    idx = index_directory(directory, class_names or None, follow_links, "modern",
                          verbose=verbose)
    return FileList(idx.filepaths, idx.classes, list(idx.class_names))


def _from_root(directory: str, labels: Any, class_names: Any,
               follow_links: bool, verbose: bool = False) -> FileList:
    """Whole tree from the root as one pseudo-class (labels None or explicit, §B3)."""
    if class_names is not None:
        if labels is None:
            raise ValueError(
                "When `labels=None` (no labels), argument `class_names` cannot be specified."
            )
        raise ValueError(
            "When argument `labels` is specified, argument `class_names` cannot be specified "
            "(the `class_names` will be the sorted list of labels)."
        )
    idx = index_directory(directory, None, follow_links, "modern", labels=None,
                          verbose=verbose)
    if labels is None:
        return FileList(idx.filepaths, None, None)
    if len(labels) != len(idx):
        raise ValueError(
            "Expected the lengths of `labels` to match the number of files in the target "
            f"directory. len(labels) is {len(labels)} while we found {len(idx)} files in "
            f"directory {directory}."
        )
    return FileList(idx.filepaths, labels, [str(v) for v in sorted(set(labels))])


def shuffle_files(files: FileList, seed: int) -> FileList:
    """Keras's global shuffle (§B4): ``shuffled[i] = original[perm[i]]``.

    An explicit label **list** is shuffled in place, as Keras does (so the caller's list stays
    aligned with ``file_paths``); a tuple is left untouched (Keras fails on tuples).

    Args:
        files: the file list in discovery order.
        seed: ``np.random.RandomState`` seed (0 <= seed < 2**32, else numpy's error, as Keras).

    Returns:
        The shuffled file list.
    """
    perm = np.random.RandomState(seed).permutation(len(files))
    labels = files.labels
    if isinstance(labels, list):
        np.random.RandomState(seed).shuffle(labels)
    else:
        labels = _take_labels(labels, perm)
    return FileList(files.paths.take(perm), labels, files.class_names)


def index_files(directory: str | os.PathLike, labels: Any = "inferred",
                class_names: Sequence[str] | None = None, follow_links: bool = False,
                shuffle: bool = True, seed: int = 0, verbose: bool = True) -> FileList:
    """Keras's ``index_directory`` for ``image_dataset_from_directory`` (§B2–§B4).

    Args:
        directory: root folder, kept as given in every path; or a list of roots (see
            ``modern_roots.py``: classes merged by name, absolute paths).
        labels: "inferred", None, or an explicit list/tuple of labels (one per file, in the
            sorted listing order of the whole tree).
        class_names: explicit class sub-folders (subset, order kept), only with "inferred".
        follow_links: descend into symlinked sub-folders.
        shuffle: apply the seeded global shuffle.
        seed: shuffle seed.
        verbose: print ``Found N files belonging to K classes.`` / ``Found N files.``, and
            show a progress bar on stderr while a walk takes longer than a second.

    Returns:
        A ``FileList``.

    Raises:
        FileNotFoundError: missing root (inferred labels).
        ValueError: Keras's class-name and label-count errors (§B9).
    """
    if isinstance(directory, (list, tuple)):  # several roots: classes merged by name
        from .modern_roots import root_files
        files = root_files(directory, labels, class_names, follow_links, verbose)
    elif isinstance(labels, str) and labels == "inferred":
        files = _inferred(os.fspath(directory), class_names, follow_links, verbose)
    else:
        files = _from_root(os.fspath(directory), labels, class_names, follow_links, verbose)
    if verbose:
        if files.class_names is None:
            print(f"Found {len(files)} files.")
        else:
            print(f"Found {len(files)} files belonging to {len(files.class_names)} classes.")
    return shuffle_files(files, seed) if shuffle else files


def split_files(files: FileList, validation_split: float | None, subset: str | None) -> FileList:
    """The training or validation part of ``files`` (§B5, upstream fix for tiny fractions).

    Prints ``Using k files for training.`` / ``Using k files for validation.`` (always, as
    Keras) when ``validation_split`` is set.

    Args:
        files: the (shuffled) global file list.
        validation_split: fraction held out for validation; falsy returns ``files``.
        subset: "training" or "validation".

    Returns:
        Training = the first ``N - int(v * N)`` files, validation = the last ``int(v * N)``.

    Raises:
        ValueError: any other ``subset`` (Keras's message).
    """
    if not validation_split:
        return files
    n = len(files)
    num_val = int(validation_split * n)
    if subset == "training":
        print(f"Using {n - num_val} files for training.")
        return files.take(np.arange(0, n - num_val))
    if subset == "validation":
        print(f"Using {num_val} files for validation.")
        return files.take(np.arange(n - num_val, n))
    raise ValueError(f'`subset` must be either "training" or "validation", received: {subset}')


def label_array(labels: Any, label_mode: str | None) -> np.ndarray | None:
    """Labels as a numpy array: int32 for integers, float32 for floats (as TF infers them).

    Args:
        labels: None, an int32 array (inferred), or an explicit sequence of numbers.
        label_mode: the dataset's label mode (categorical needs integers, as ``tf.one_hot``).

    Returns:
        ``(N,)`` int32 or float32 array, or None.

    Raises:
        TypeError: non-numeric labels (strings, bools), or floats with categorical.
        ValueError: integers outside the int32 range.
    """
    if labels is None or label_mode is None:
        return None
    arr = np.asarray(labels)
    if arr.ndim != 1 or arr.dtype.kind not in "iuf":
        raise TypeError(
            "Explicit `labels` must be a flat list of numbers (ints or floats); kdir_torch "
            f"cannot carry TF string/bool label tensors. Received: labels={reprlib.repr(labels)}"
        )
    if arr.dtype.kind == "f":
        if label_mode == "categorical":
            raise TypeError('label_mode="categorical" needs integer `labels` (tf.one_hot does).')
        return arr.astype(np.float32)
    if arr.size and (arr.min() < _INT32.min or arr.max() > _INT32.max):
        raise ValueError("Integer `labels` must fit in int32.")
    return arr.astype(np.int32)

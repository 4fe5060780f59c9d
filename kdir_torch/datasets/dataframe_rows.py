"""Keras's ``DataFrameIterator`` rules on a table: checks, filtering, classes, split, labels.

keras-semantics §A14, in Keras's order: the argument checks of ``_check_params`` (with Keras's
types and texts), then ``validate_filenames`` (rows whose file is missing or has another
extension are dropped, with Keras's warning), then the classes (``classes`` given: order
preserving de-duplication, rows whose labels are not in it dropped, list labels filtered and
dropped when empty; else the sorted set of every label), then the split (global, in table
order: validation is the first fraction of the rows), then the labels of the rows left.

The result, ``DataFrameRows``, is compact (DESIGN "Compact index"): names in a
``StringTable``, class indices in one int32 array (plus int64 offsets when some labels are
lists), weights and raw targets in numpy arrays; no per-row Python object.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..index import LEGACY_EXTENSIONS, StringTable
from .dataframe_table import Table

CLASS_MODES = {"binary", "categorical", "input", "multi_output", "raw", "sparse", None}
LABELLED = ("binary", "categorical", "sparse")  # the modes with classes (§A14)


@dataclass(frozen=True, eq=False)
class DataFrameRows:
    """The rows a dataset reads, after Keras's filters and split.

    Attributes:
        directory: joined in front of every file name ("" when ``directory=None``).
        filenames: ``x_col`` values of the rows, a sequence of ``str``.
        class_indices: ``{class: index}`` ({} for label-less modes).
        label_values: int32 class indices: one per row, or back to back when
            ``label_offsets`` is set (multi-label rows).
        label_offsets: int64 ``(n + 1,)`` offsets into ``label_values``, or None.
        list_rows: bool ``(n,)``: the row's label was a list/tuple (None when none was).
        targets: raw ``(n,)``/``(n, k)`` array, multi_output list of arrays, or None.
        weights: ``weight_col`` values (the column's dtype), or None.
    """

    directory: str
    filenames: StringTable
    class_indices: dict[Any, int]
    label_values: np.ndarray
    label_offsets: np.ndarray | None
    list_rows: np.ndarray | None
    targets: np.ndarray | list[np.ndarray] | None
    weights: np.ndarray | None

    @property
    def filepaths(self) -> StringTable:
        """``os.path.join(directory, name)`` for every row (computed on access)."""
        return self.filenames.with_prefix(self.directory)

    def filepath(self, i: int) -> str:
        """Full path of row ``i``."""
        return os.path.join(self.directory, self.filenames[i])

    def __len__(self) -> int:
        return len(self.filenames)

    def label_lists(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(row, class)`` pairs of the labels of ``rows``: ``(position in rows, class index)``."""
        starts, stops = self.label_offsets[rows], self.label_offsets[rows + 1]
        lengths = stops - starts
        owner = np.repeat(np.arange(len(rows)), lengths)
        first = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        return owner, self.label_values[first + np.arange(int(lengths.sum()))]


def _type_error_all(values: np.ndarray, types: tuple[type, ...], message: str) -> None:
    if not all(isinstance(v, types) for v in values):
        raise TypeError(message)


def _check_two_classes(labels: np.ndarray, classes: Any) -> None:
    if classes:
        if len(set(classes)) != 2:
            raise ValueError('If class_mode="binary" there must be 2 classes. '
                             f"{len(set(classes))} class/es were given.")
    elif len(set(labels)) != 2:
        raise ValueError('If class_mode="binary" there must be 2 classes. '
                         f"Found {len(set(labels))} classes.")


def check_params(table: Table, x_col: Any, y_col: Any, weight_col: Any, classes: Any,
                 class_mode: str | None) -> None:
    """Keras's ``DataFrameIterator._check_params`` after the class_mode check, in its order.

    Raises:
        TypeError: multi_output without a list ``y_col``; non-string file names; binary /
            sparse labels that are not strings; categorical labels that are not strings,
            lists or tuples; a non-numeric ``weight_col`` (Keras's texts); raw labels that
            are not numbers (ours: labels become tensors).
        ValueError: binary without exactly two classes (Keras's text).
        KeyError: a column that the mode reads is missing.
    """
    if class_mode == "multi_output" and not isinstance(y_col, list):
        raise TypeError(f'If class_mode="{class_mode}", y_col must be a list. '
                        f"Received {type(y_col).__name__}.")
    x_message = f"All values in column x_col={x_col} must be strings."
    if isinstance(x_col, list):  # Keras's per-column apply: never all strings
        raise TypeError(x_message)
    _type_error_all(table.values(x_col), (str,), x_message)
    if class_mode in LABELLED:
        kind = "type string, list or tuple" if class_mode == "categorical" else "strings"
        message = f'If class_mode="{class_mode}", y_col="{y_col}" column values must be {kind}.'
        if isinstance(y_col, list):  # Keras's per-column apply: never all strings
            raise TypeError(message)
        labels = table.values(y_col)
        if class_mode in ("binary", "sparse"):
            _type_error_all(labels, (str,), message)
        if class_mode == "binary":
            _check_two_classes(labels, classes)
        if class_mode == "categorical":
            _type_error_all(labels, (str, list, tuple), message)
    if classes and class_mode in ("input", "multi_output", "raw", None):
        warnings.warn(f'`classes` will be ignored given the class_mode="{class_mode}"',
                      UserWarning, stacklevel=4)
    if weight_col and not table.is_numeric(weight_col):
        raise TypeError(f"Column weight_col={weight_col} must be numeric.")
    if class_mode == "raw":
        raw = table.matrix(y_col) if isinstance(y_col, list) else table.values(y_col)
        _check_numeric(raw, class_mode, y_col)


def _check_numeric(values: np.ndarray, class_mode: str, y_col: Any) -> None:
    if not (issubclass(values.dtype.type, np.number) or values.dtype == bool):
        raise TypeError(
            f'If class_mode="{class_mode}", the y_col={y_col!r} values must be numbers or '
            f"bools (kdir_torch delivers labels as tensors; Keras would pass them through "
            f"as a numpy array of dtype {values.dtype}). Use class_mode='categorical', "
            "'sparse' or 'binary' for class names."
        )


def valid_rows(names: np.ndarray, directory: str, x_col: Any) -> np.ndarray:
    """Indices of the rows whose ``join(directory, name)`` is an image file (Keras's rule).

    Warns Keras's ``Found {k} invalid image filename(s) in x_col=...`` when some are not.
    """
    keep = np.fromiter(
        (n.lower().endswith(LEGACY_EXTENSIONS) and os.path.isfile(os.path.join(directory, n))
         for n in names), dtype=bool, count=len(names))
    n_invalid = int((~keep).sum())
    if n_invalid:
        warnings.warn(f'Found {n_invalid} invalid image filename(s) in x_col="{x_col}". '
                      "These filename(s) will be ignored.", UserWarning, stacklevel=4)
    return np.flatnonzero(keep)


def filter_classes(labels: np.ndarray, classes: Any) -> tuple[list[Any], np.ndarray, list[Any]]:
    """Keras's ``_filter_classes``: ``(class names, kept positions, their labels)``."""
    if not classes:
        names: set[Any] = set()
        for label in labels:
            if isinstance(label, (list, tuple)):
                names.update(label)
            else:
                names.add(label)
        return sorted(names), np.arange(len(labels)), list(labels)
    order = list(dict.fromkeys(classes))
    wanted = set(order)
    kept, out = [], []
    for k, label in enumerate(labels):
        if isinstance(label, (list, tuple)):
            label = [c for c in label if c in wanted] or None
        elif label not in wanted:
            label = None
        if label is not None:
            kept.append(k)
            out.append(label)
    return order, np.array(kept, dtype=np.int64), out


def _as_list(label: Any) -> list[Any] | tuple[Any, ...]:
    return label if isinstance(label, (list, tuple)) else (label,)


def encode_labels(labels: list[Any], class_indices: dict[Any, int]
                  ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """``(values, offsets, list_rows)`` of ``DataFrameRows`` (Keras's ``get_classes``)."""
    is_list = np.fromiter((isinstance(lab, (list, tuple)) for lab in labels), bool, len(labels))
    if not is_list.any():
        return np.array([class_indices[lab] for lab in labels], dtype=np.int32), None, None
    offsets = np.zeros(len(labels) + 1, dtype=np.int64)
    np.cumsum([len(_as_list(lab)) for lab in labels], out=offsets[1:])
    flat = [class_indices[c] for lab in labels for c in _as_list(lab)]
    return np.array(flat, dtype=np.int32), offsets, is_list


def build_rows(table: Table, directory: str, x_col: Any, y_col: Any, weight_col: Any,
               classes: Any, class_mode: str | None, validate_filenames: bool,
               split: tuple[float, float] | None) -> DataFrameRows:
    """Keras's ``DataFrameIterator.__init__`` from the checks on (module docstring).

    Raises:
        TypeError / ValueError / KeyError: see ``check_params``; ValueError also for
            multi_output columns whose cells do not stack into one array (as Keras).
    """
    check_params(table, x_col, y_col, weight_col, classes, class_mode)
    names = table.values(x_col)
    rows = valid_rows(names, directory, x_col) if validate_filenames else np.arange(len(names))
    class_names: list[Any] = []
    labels: list[Any] = []
    if class_mode in LABELLED:
        class_names, kept, labels = filter_classes(table.values(y_col)[rows], classes)
        rows = rows[kept]
    if split is not None:
        start, stop = int(split[0] * len(rows)), int(split[1] * len(rows))
        rows, labels = rows[start:stop], labels[start:stop]
    class_indices = dict(zip(class_names, range(len(class_names))))
    values, offsets, list_rows = encode_labels(labels, class_indices)
    targets: np.ndarray | list[np.ndarray] | None = None
    if class_mode == "raw":
        raw = table.matrix(y_col) if isinstance(y_col, list) else table.values(y_col)
        targets = raw[rows]
    elif class_mode == "multi_output":
        targets = [np.array(table.values(col)[rows].tolist()) for col in y_col]
        for col, target in zip(y_col, targets):
            _check_numeric(target, class_mode, col)
    weights = np.asarray(table.values(weight_col)[rows]) if weight_col else None
    return DataFrameRows(directory, StringTable.from_strings(names[rows]), class_indices,
                         values, offsets, list_rows, targets, weights)

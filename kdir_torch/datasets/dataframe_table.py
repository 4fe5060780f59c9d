"""The table behind ``KerasDataFrameDataset``: a pandas DataFrame, a CSV file or records.

Keras's ``flow_from_dataframe`` takes a pandas DataFrame (keras-semantics §A14). pandas stays an
optional dependency here: it is imported only when a DataFrame is passed (it is then already
imported; the check reads ``sys.modules`` and never imports it) or when a CSV file is read and
pandas is installed. Three inputs are accepted:

* a ``pandas.DataFrame``: columns are read with pandas itself (``df[col].to_numpy()``,
  ``df[cols].to_numpy()``), so dtypes are exactly the ones Keras sees;
* a CSV path (``str`` / ``os.PathLike``): ``pandas.read_csv(path)`` when pandas is installed,
  else the stdlib ``csv`` module with pandas's basic inference (a column whose non-missing
  cells all parse as integers is int64, or float64 when some are missing; as numbers
  float64; ``True``/``False`` bool; anything else strings, missing cells as NaN). A CSV has no
  list-valued cells: multi-label rows need a DataFrame or records;
* a list (or tuple) of records, mappings ``{column: value}`` (``DataFrame(records)``'s
  layout: columns in first-seen key order, a missing key is a missing value). Values are kept
  as given, so a cell may hold a list of labels.

The table only lives while a dataset is built; the dataset keeps compact arrays (DESIGN
"Compact index").
"""

from __future__ import annotations

import csv
import math
import numbers
import os
import re
import sys
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np

# pandas.read_csv's default missing-value markers
_NA = frozenset({"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
                 "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"})
_INT = re.compile(r"[+-]?\d+\Z")
_TRUE, _FALSE = frozenset({"True", "TRUE", "true"}), frozenset({"False", "FALSE", "false"})


def import_pandas() -> Any:
    """The pandas module, or None when it is not installed (the only import of pandas)."""
    try:
        import pandas
    except ImportError:
        return None
    return pandas


def _is_dataframe(obj: Any) -> bool:
    pandas = sys.modules.get("pandas")  # a DataFrame means pandas is imported already
    return pandas is not None and isinstance(obj, pandas.DataFrame)


class Table:
    """Columns by name, as numpy arrays (1-D ``object`` for strings, lists, mixed values)."""

    def __init__(self, columns: Mapping[Hashable, np.ndarray], n_rows: int) -> None:
        self._columns, self.n_rows = dict(columns), int(n_rows)

    def values(self, name: Any) -> np.ndarray:
        """Column ``name``, ``(n_rows,)``. Raises KeyError when it is missing (as pandas)."""
        if not isinstance(name, Hashable) or name not in self._columns:
            raise KeyError(name)
        return self._columns[name]

    def is_numeric(self, name: Any) -> bool:
        """Keras's test ``issubclass(df[name].dtype.type, np.number)`` (bool is not a number)."""
        return issubclass(self.values(name).dtype.type, np.number)

    def matrix(self, names: list[Any]) -> np.ndarray:
        """``df[names].to_numpy()``: ``(n_rows, len(names))`` in the columns' common dtype."""
        cols = [self.values(n) for n in names]
        if not cols:
            return np.zeros((self.n_rows, 0))
        if any(c.dtype == object for c in cols) or len({c.dtype == bool for c in cols}) > 1:
            out = np.empty((self.n_rows, len(cols)), dtype=object)  # pandas: no bool upcast
            for k, c in enumerate(cols):
                out[:, k] = c
            return out
        return np.column_stack(cols)


class PandasTable(Table):
    """A pandas DataFrame read through pandas itself (the dtypes Keras sees)."""

    def __init__(self, df: Any) -> None:
        super().__init__({}, len(df))
        self._df = df

    def values(self, name: Any) -> np.ndarray:
        if not isinstance(name, Hashable) or name not in self._df.columns:
            raise KeyError(name)
        return self._df[name].to_numpy()

    def is_numeric(self, name: Any) -> bool:
        if not isinstance(name, Hashable) or name not in self._df.columns:
            raise KeyError(name)
        return issubclass(self._df[name].dtype.type, np.number)

    def matrix(self, names: list[Any]) -> np.ndarray:
        missing = [n for n in names if not isinstance(n, Hashable) or n not in self._df.columns]
        if missing:
            raise KeyError(missing[0] if len(missing) == 1 else missing)
        return self._df[list(names)].to_numpy()


def _object_array(values: Sequence[Any]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)  # element-wise: list cells stay lists
    for k, value in enumerate(values):
        out[k] = value
    return out


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _infer(values: Sequence[Any]) -> np.ndarray:
    """A column from Python values: bool, int64, float64 (missing -> NaN) or object."""
    present = [v for v in values if not _is_missing(v)]
    if present and len(present) == len(values) and all(
            isinstance(v, (bool, np.bool_)) for v in present):
        return np.array(values, dtype=bool)
    if present and all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_))
                       for v in present):
        if len(present) == len(values) and all(isinstance(v, numbers.Integral) for v in present):
            return np.array(values, dtype=np.int64)
        return np.array([math.nan if _is_missing(v) else v for v in values], dtype=np.float64)
    return _object_array(values)


def _parse_cell(cell: str) -> Any:
    if cell in _NA:
        return math.nan
    if _INT.match(cell):
        return int(cell)
    if cell in _TRUE or cell in _FALSE:
        return cell in _TRUE
    if "_" not in cell:
        try:
            return float(cell)
        except ValueError:
            pass
    return cell


def _infer_csv(cells: list[str]) -> np.ndarray:
    """A CSV column the way ``pandas.read_csv`` types it in the plain cases (module docstring)."""
    parsed = [_parse_cell(c) for c in cells]
    present = [v for v in parsed if not _is_missing(v)]
    if present and all(isinstance(v, numbers.Real) for v in present):
        kinds = {isinstance(v, bool) for v in present}
        if kinds == {True} and len(present) == len(parsed):
            return np.array(parsed, dtype=bool)
        if kinds == {False}:
            return _infer(parsed)
    return _object_array([math.nan if c in _NA else c for c in cells])  # strings stay strings


def _read_csv(path: str | os.PathLike) -> Table:
    pandas = import_pandas()
    if pandas is not None:
        return PandasTable(pandas.read_csv(path))
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValueError(f"No columns to parse from file {os.fspath(path)!r}")
    header, body = rows[0], rows[1:]
    width = len(header)
    body = [(r + [""] * width)[:width] for r in body if r]
    columns = {name: _infer_csv([r[k] for r in body]) for k, name in enumerate(header)}
    return Table(columns, len(body))


def _from_records(records: Sequence[Any]) -> Table:
    names: dict[Hashable, None] = {}
    for k, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise TypeError(
                "`dataframe` records must be mappings {column: value}. "
                f"Received: dataframe[{k}]={record!r}"
            )
        names.update(dict.fromkeys(record))
    columns = {name: _infer([r.get(name) for r in records]) for name in names}
    return Table(columns, len(records))


def read_table(dataframe: Any) -> Table:
    """The table of a DataFrame, a CSV path or a list of records (module docstring).

    Raises:
        TypeError: ``dataframe`` is none of these.
    """
    if _is_dataframe(dataframe):
        return PandasTable(dataframe)
    if isinstance(dataframe, (str, os.PathLike)):
        return _read_csv(dataframe)
    if isinstance(dataframe, (list, tuple)):
        return _from_records(dataframe)
    raise TypeError(
        "`dataframe` must be a pandas DataFrame, the path of a CSV file or a list of records "
        f"(dicts {{column: value}}). Received: dataframe of type {type(dataframe).__name__}"
    )

"""Several roots as one index, and indexes merged into one: classes merged by name.

A multi-root index lists every root exactly as a single-root index would (Keras's class
folders, file order and per-class split, keras-semantics §A3–§A5 / §B2–§B3), root after root in the
order given. Classes are merged **by name**: the class list is the union of the roots' class
folders in Keras's sort order (plain code-point ``sorted``), or ``classes=`` when given (legacy:
a name missing from a root is simply empty there; modern: it must be a folder of some root),
and every file's label is its class's position in that list.

File names stay unambiguous. ``directory`` is the deepest folder holding every root
(``os.path.commonpath`` of the absolute roots) and each file name is
``<root relative to directory>/<class>/<file>``; ``filepaths`` join the two, so they are
absolute. With one root (or several indexes of the same root) the names are Keras's
``<class>/<file>``. Roots may not repeat or lie inside one another (the same file would be
listed twice): that is a ``ValueError`` naming them.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .directory_index import (DirectoryIndex, _check_class_names, _discover_classes, _list,
                              indexing_bar)
from .strings import StringTable


def check_roots(directories: Any) -> list[str]:
    """Absolute, distinct, non-nested roots.

    Args:
        directories: a non-empty list/tuple of ``str`` / ``os.PathLike``.

    Returns:
        ``os.path.abspath`` of every root, in the given order.

    Raises:
        TypeError: not a list/tuple of paths.
        ValueError: empty, or two roots that are the same folder or nested.
    """
    if not isinstance(directories, (list, tuple)) or not all(
            isinstance(d, (str, os.PathLike)) for d in directories):
        raise TypeError("`directory` must be a path or a list of paths. "
                        f"Received: directory={directories!r}")
    if not directories:
        raise ValueError("`directory` must name at least one folder. Received: directory=[]")
    roots = [os.path.abspath(os.fspath(d)) for d in directories]
    real = [os.path.realpath(r) for r in roots]
    for i in range(len(roots)):
        for j in range(i + 1, len(roots)):
            if os.path.commonpath([real[i], real[j]]) in (real[i], real[j]):
                raise ValueError(
                    f"Roots {roots[i]!r} and {roots[j]!r} are the same folder or one lies "
                    "inside the other, so files would be listed twice. Pass folders that do "
                    f"not overlap. Received: directory={list(directories)!r}"
                )
    return roots


def _union_classes(roots: list[str], classes: Iterable[str] | None, formats: str) -> list[str]:
    """The merged class list: ``classes`` as given, else the sorted union of class folders."""
    wanted = list(classes) if classes else []
    if not wanted:
        found: set[str] = set()
        for root in roots:
            found.update(_discover_classes(root, formats))
        return sorted(found)
    if formats == "modern":
        folders = sorted({n for root in roots for n in _discover_classes(root, "modern")})
        if not set(wanted) <= set(folders):
            raise ValueError(
                "The `class_names` passed did not match the names of the subdirectories of "
                f"the target directories. Expected: {folders} (or a subset of it), but "
                f"received: class_names={wanted}"
            )
    for root in roots:
        _check_class_names(root, wanted, "legacy")  # no nested names, '.', '..'
    return wanted


def index_roots(
    directories: Sequence[str | os.PathLike],
    classes: Iterable[str] | None = None,
    follow_links: bool = False,
    formats: str = "legacy",
    *,
    split: tuple[float, float] | None = None,
    verbose: bool = False,
) -> DirectoryIndex:
    """Index several ``root/class/.../image`` trees as one (see the module docstring).

    Args:
        directories: the roots, in the order their files are listed.
        classes: explicit class names (order kept), or None / empty for the sorted union.
        follow_links: descend into symlinked sub-folders of class folders.
        formats: "legacy" or "modern" listing rules (extensions, hidden folders).
        split: legacy per-class ``(start, stop)`` fractions, applied to each root's class
            folder separately (§A5), or None.
        verbose: a progress bar on stderr over all roots when the walk is slow.

    Returns:
        A ``DirectoryIndex`` whose ``directory`` is the common parent of the roots.

    Raises:
        TypeError / ValueError: see ``check_roots``; bad class names (as ``index_directory``).
        FileNotFoundError: a root does not exist and classes must be discovered.
    """
    if formats not in ("legacy", "modern"):
        raise ValueError(f'`formats` must be "legacy" or "modern". Received: formats={formats!r}')
    roots = check_roots(directories)
    names = _union_classes(roots, classes, formats)
    common = os.path.commonpath(roots)
    files: list[str] = []
    labels: list[np.ndarray] = []
    class_indices: dict[str, int] = dict(zip(names, range(len(names))))
    with indexing_bar(verbose) as bar:
        for root in roots:
            rel = _relative_prefix(root, common)
            listed, cls, class_indices = _list(root, names, formats, follow_links, split, bar)
            files.extend(rel + f for f in listed)
            labels.append(cls)
    return DirectoryIndex(common, tuple(names), class_indices, StringTable.from_strings(files),
                          np.concatenate(labels).astype(np.int32, copy=False))


def _relative_prefix(directory: str, common: str) -> str:
    """``relpath(directory, common) + os.sep``, or "" when they are the same folder."""
    rel = os.path.relpath(directory, common)
    return "" if rel == os.curdir else rel + os.sep


def prepend(table: StringTable, prefix: str) -> StringTable:
    """``prefix + item`` for every item of ``table`` (vectorised; the table's own prefix,
    if any, is dropped).

    Args:
        table: the items.
        prefix: the text put in front of each (often a folder name ending with ``os.sep``).

    Returns:
        A new ``StringTable``.
    """
    if not prefix:
        return table.with_prefix(None)
    head = np.frombuffer(os.fsencode(prefix), dtype=np.uint8)
    buffer, offsets = table._buffer, table._offsets
    n, width = len(table), len(head)
    new_offsets = offsets + width * np.arange(n + 1, dtype=np.int64)
    out = np.empty(int(new_offsets[-1]), dtype=np.uint8)
    head_pos = (new_offsets[:-1, None] + np.arange(width, dtype=np.int64)).ravel()
    is_item = np.ones(out.size, dtype=bool)
    is_item[head_pos] = False
    out[head_pos] = np.tile(head, n)
    out[is_item] = buffer[: int(offsets[-1])]
    return StringTable(out, new_offsets)


def resolved(table: StringTable) -> StringTable:
    """The items as ``table`` yields them (its prefix joined in), in a table without prefix."""
    prefix = table._prefix
    return table if prefix is None else prepend(table, os.path.join(prefix, ""))


def merged_class_names(name_lists: Sequence[Sequence[str]],
                       classes: Sequence[str] | None = None) -> list[str]:
    """The class list of merged indexes: ``classes``, the common list when every index has the
    same one, else the sorted union of names.

    Raises:
        ValueError: ``classes`` lacks a class that some index has.
    """
    if classes is not None:
        wanted = list(classes)
        missing = sorted({n for names in name_lists for n in names} - set(wanted))
        if missing:
            raise ValueError(f"`classes` must name every class of the datasets; missing "
                             f"{missing}. Received: classes={wanted!r}")
        return wanted
    first = list(name_lists[0])
    if all(list(names) == first for names in name_lists):
        return first
    return sorted({n for names in name_lists for n in names})


def remap(labels: np.ndarray, names: Sequence[str], class_indices: dict[str, int]) -> np.ndarray:
    """Labels that are positions in ``names``, as positions in the merged class list."""
    lut = np.array([class_indices[n] for n in names], dtype=np.int32)
    return lut[labels] if len(lut) else labels.astype(np.int32, copy=True)


def merge_indexes(indexes: Sequence[DirectoryIndex],
                  classes: Sequence[str] | None = None) -> DirectoryIndex:
    """One index holding the files of ``indexes`` one after the other, classes merged by name.

    ``directory`` is the common parent of the indexes' (absolute) directories and file names
    are relative to it (see the module docstring), so they are unique unless two indexes
    hold the same file.

    Raises:
        ValueError: an empty list, a ``classes`` list missing a class, or a file present in
            two indexes.
    """
    if not indexes:
        raise ValueError("Nothing to merge: got an empty list of datasets.")
    names = merged_class_names([ix.class_names for ix in indexes], classes)
    class_indices = dict(zip(names, range(len(names))))
    dirs = [os.path.abspath(ix.directory) for ix in indexes]
    common = os.path.commonpath(dirs)
    tables = [prepend(ix.filenames, _relative_prefix(d, common)) for ix, d in zip(indexes, dirs)]
    labels = [remap(ix.classes, ix.class_names, class_indices) for ix in indexes]
    merged = DirectoryIndex(common, tuple(names), class_indices, StringTable.concat(tables),
                            np.concatenate(labels).astype(np.int32, copy=False))
    _check_unique(merged.filenames, dirs)
    return merged


def _check_unique(filenames: StringTable, dirs: list[str]) -> None:
    """Raise if a file name repeats (only possible when two directories overlap)."""
    real = [os.path.realpath(d) for d in dirs]
    overlap = any(os.path.commonpath([a, b]) in (a, b)
                  for i, a in enumerate(real) for b in real[i + 1:])
    if overlap:
        check_unique(filenames)


def check_unique(names: Iterable[str]) -> None:
    """Raise if a file name (or path) repeats in a merged listing.

    Raises:
        ValueError: names the first file that occurs twice.
    """
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(
                f"The datasets share the file {name!r}: a merged dataset holds each file "
                "once (its `filenames` must stay unambiguous). Merge disjoint datasets, e.g. "
                "the parts returned by kt.split."
            )
        seen.add(name)

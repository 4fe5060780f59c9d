"""Class discovery, file listing and splits: ``index_directory`` (keras-semantics §A3–§A5, §B2–§B3)."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..progress import progress
from .strings import StringTable
from .walk import LEGACY_EXTENSIONS, MODERN_EXTENSIONS, list_files

_TIFF_WARNING = 'Using ".tiff" files with multiple bands will cause distortion. Please verify your output.'


@dataclass(frozen=True, eq=False)
class DirectoryIndex:
    """The files of a directory tree with their classes, stored compactly.

    Attributes:
        directory: the root as passed.
        class_names: class names in index order (duplicates kept, as Keras).
        class_indices: ``{name: index}`` (a duplicated name maps to its last position).
        filenames: relative names (``class/sub/file.png``), a sequence of ``str``.
        classes: ``np.int32`` class index per file, aligned with ``filenames``.
    """

    directory: str
    class_names: tuple[str, ...]
    class_indices: dict[str, int]
    filenames: StringTable
    classes: np.ndarray

    @property
    def filepaths(self) -> StringTable:
        """``os.path.join(directory, f)`` for every file name (computed on access)."""
        return self.filenames.with_prefix(self.directory)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def __len__(self) -> int:
        return len(self.classes)

    def take(self, indices: np.ndarray) -> DirectoryIndex:
        """A new index holding the files at ``indices`` (same classes)."""
        indices = np.asarray(indices, dtype=np.int64)
        return DirectoryIndex(
            self.directory, self.class_names, self.class_indices,
            self.filenames.take(indices), self.classes[indices],
        )

    def filepath(self, i: int) -> str:
        """Full path of file ``i``."""
        return self.filepaths[i]


def _warn_flat_tree(directory: str, formats: str) -> None:
    """No class folders but images right in ``directory``: the classic wrong-folder mistake."""
    exts = LEGACY_EXTENSIONS if formats == "legacy" else MODERN_EXTENSIONS
    images = [n for n in sorted(os.listdir(directory)) if n.lower().endswith(exts)]
    if images:
        warnings.warn(
            f"Found {len(images)} image(s) directly in {directory!r} (e.g. {images[0]!r}) but "
            "no class sub-folders: images must sit in one sub-folder per class "
            "(directory/<class>/<image>), so none is used. Point `directory` at the folder "
            "above the class folders.", UserWarning, stacklevel=4,
        )


def _discover_classes(directory: str, formats: str) -> list[str]:
    """Sorted sub-directories of ``directory`` (§A3 legacy: hidden kept; §B2 modern: skipped)."""
    names = [n for n in sorted(os.listdir(directory)) if os.path.isdir(os.path.join(directory, n))]
    if not names:
        _warn_flat_tree(directory, formats)
    hidden = [n for n in names if n.startswith(".")]
    if formats == "modern":
        return [n for n in names if not n.startswith(".")]
    for name in hidden:
        warnings.warn(
            f"Hidden folder {name!r} in {directory!r} is treated as a class, as Keras's "
            "flow_from_directory does. Remove it or pass `classes=` to exclude it.",
            UserWarning, stacklevel=4,
        )
    return names


def _check_class_names(directory: str, wanted: list[str], formats: str) -> None:
    """Modern ``class_names`` must be a subset of the sub-directories (§B2); legacy: no nesting."""
    for name in wanted:
        if not isinstance(name, str):
            raise TypeError(f"Class names must be strings. Received: {name!r}")
    if formats == "modern":
        subdirs = _discover_classes(directory, "modern")
        if not set(wanted) <= set(subdirs):
            raise ValueError(
                "The `class_names` passed did not match the names of the subdirectories of "
                f"the target directory. Expected: {subdirs} (or a subset of it), but received: "
                f"class_names={wanted}"
            )
        return
    for name in wanted:
        if name in ("", ".", "..") or any(sep and sep in name for sep in (os.sep, os.altsep)):
            raise ValueError(
                f"Class name {name!r} is not the name of a folder inside `directory` (a nested "
                "path, '.' or '..'): it would list files outside the class folders, and Keras "
                "fails with a KeyError on nested names. Pass the names of sub-folders of "
                f"{directory!r}. Received: classes={wanted!r}"
            )


def indexing_bar(verbose: bool) -> Any:
    """The bar of a directory walk: files seen, shown when ``verbose`` and the walk is slow."""
    return progress(desc="Indexing", unit="file", verbose=verbose)


def _list(directory: str, class_names: list[str], formats: str, follow_links: bool,
          split: tuple[float, float] | None,
          bar: Any = None) -> tuple[list[str], np.ndarray, dict[str, int]]:
    """Relative file names and labels for every class, in class order (§A4, §A5); ``bar``
    (or None) advances per folder walked, its postfix naming the class reached."""
    exts = LEGACY_EXTENSIONS if formats == "legacy" else MODERN_EXTENSIONS
    class_indices = dict(zip(class_names, range(len(class_names))))
    names: list[str] = []
    labels: list[np.ndarray] = []
    for k, cls in enumerate(class_names):
        if bar is not None:
            bar.set_postfix_str(f"class {k + 1}/{len(class_names)}", refresh=False)
        files = list_files(os.path.join(directory, cls), exts, follow_links, bar)
        if formats == "legacy" and any(f.lower().endswith(".tiff") for f in files):
            for _ in range(sum(f.lower().endswith(".tiff") for f in files)):
                warnings.warn(_TIFF_WARNING, UserWarning, stacklevel=4)
        if split is not None:
            n = len(files)
            files = files[int(split[0] * n) : int(split[1] * n)]
        names.extend(cls + os.sep + f for f in files)
        labels.append(np.full(len(files), class_indices[cls], dtype=np.int32))
    classes = np.concatenate(labels) if labels else np.zeros(0, np.int32)
    return names, classes, class_indices


def index_directory(
    directory: str | os.PathLike,
    classes: Iterable[str] | None = None,
    follow_links: bool = False,
    formats: str = "legacy",
    *,
    labels: str | None = "inferred",
    split: tuple[float, float] | None = None,
    verbose: bool = False,
) -> DirectoryIndex:
    """Index a Keras-style ``root/class_name/.../image`` tree.

    Args:
        directory: root folder.
        classes: explicit class names, kept in the given order (legacy: any names, missing ones
            are empty classes; modern: must be a subset of the sub-directories). None or an
            empty list discovers the sorted sub-directories.
        follow_links: descend into symlinked sub-folders inside a class folder.
        formats: "legacy" (flow_from_directory rules, §A3–§A4) or "modern"
            (image_dataset_from_directory rules, §B2–§B3).
        labels: "inferred" (classes from sub-folders) or None (modern only: index the whole
            tree from the root as one unnamed class, §B3).
        split: legacy per-class ``(start, stop)`` fractions (§A5), or None.
        verbose: a progress bar on stderr (files seen, class reached) when the walk lasts
            longer than a second.

    Returns:
        A ``DirectoryIndex``.

    Raises:
        FileNotFoundError: the root does not exist and classes must be discovered.
        ValueError: bad ``formats``/``labels`` or class names (see §B9 for the modern text).
    """
    if formats not in ("legacy", "modern"):
        raise ValueError(f'`formats` must be "legacy" or "modern". Received: formats={formats!r}')
    if labels not in ("inferred", None):
        raise ValueError(f'`labels` must be "inferred" or None. Received: labels={labels!r}')
    directory = os.fspath(directory)
    if labels is None:
        exts = LEGACY_EXTENSIONS if formats == "legacy" else MODERN_EXTENSIONS
        with indexing_bar(verbose) as bar:
            files = list_files(directory, exts, follow_links, bar)
        return DirectoryIndex(directory, (), {}, StringTable.from_strings(files),
                              np.zeros(len(files), np.int32))
    wanted = list(classes) if classes else []
    if wanted:
        _check_class_names(directory, wanted, formats)
    else:
        wanted = _discover_classes(directory, formats)
    with indexing_bar(verbose) as bar:
        names, classes_arr, class_indices = _list(directory, wanted, formats, follow_links,
                                                  split, bar)
    return DirectoryIndex(directory, tuple(wanted), class_indices,
                          StringTable.from_strings(names), classes_arr)

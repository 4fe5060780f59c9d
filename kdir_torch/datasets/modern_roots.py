"""Several roots for ``image_dataset_from_directory`` (the modern file list, §B2–§B3).

``image_dataset_from_directory([root_a, root_b], ...)`` lists every root with the modern rules
and merges classes by name exactly as the legacy multi-root dataset does
(``kdir_torch.index.roots``): the sorted union of the roots' class folders, or
``class_names`` (each must be a folder of some root; a class may be missing from a root).
The file list is root after root; Keras's seeded global shuffle and split then apply to the
whole list. Paths are absolute. Explicit label lists need a single directory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..index import MODERN_EXTENSIONS, StringTable, list_files
from ..index.directory_index import indexing_bar
from ..index.roots import check_roots, index_roots
from .modern_files import FileList


def root_files(directories: Sequence[str | os.PathLike], labels: Any,
               class_names: Sequence[str] | None, follow_links: bool,
               verbose: bool = False) -> FileList:
    """The ``FileList`` of several roots (see the module docstring).

    Args:
        directories: the roots, in listing order.
        labels: "inferred" or None (images only, each whole tree from its root).
        class_names: explicit classes (inferred labels only), or None for the union.
        follow_links: descend into symlinked sub-folders.
        verbose: a progress bar on stderr while a slow walk runs.

    Returns:
        A ``FileList`` with absolute paths.

    Raises:
        ValueError: explicit labels, ``class_names`` with ``labels=None``, unknown class
            names, overlapping roots. FileNotFoundError: a missing root.
    """
    if isinstance(labels, str) and labels == "inferred":
        if class_names is not None and len(class_names) == 0:
            roots = check_roots(directories)
            for root in roots:
                os.listdir(root)  # FileNotFoundError for a missing root, as Keras
            return FileList(StringTable.from_strings([]), np.zeros(0, np.int32), [])
        idx = index_roots(directories, class_names or None, follow_links, "modern",
                          verbose=verbose)
        return FileList(idx.filepaths, idx.classes, list(idx.class_names))
    if labels is not None:
        raise ValueError("Explicit `labels` need a single `directory` (one label per file of "
                         "one tree). Received: several directories.")
    if class_names is not None:
        raise ValueError(
            "When `labels=None` (no labels), argument `class_names` cannot be specified."
        )
    paths: list[str] = []
    with indexing_bar(verbose) as bar:
        for root in check_roots(directories):
            paths.extend(os.path.join(root, f) for f in list_files(root, MODERN_EXTENSIONS,
                                                                   follow_links, bar))
    return FileList(StringTable.from_strings(paths), None, None)

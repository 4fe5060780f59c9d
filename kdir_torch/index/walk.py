"""Keras's file listing (keras-semantics §A4, §B3) on top of ``os.scandir``.

Keras sorts ``os.walk`` triples by their root string (not depth-first: "sub-a" comes before
"sub/deep") and the file names inside each root with ``sorted``. We reproduce exactly that,
collecting ``(root, sorted names)`` with ``os.scandir`` (one ``stat``-free pass per folder on
Linux) and building relative names by string concatenation instead of ``os.path.relpath``.
"""

from __future__ import annotations

import os
from typing import Any

LEGACY_EXTENSIONS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
MODERN_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _scan(path: str, follow_links: bool, out: list[tuple[str, list[str]]], bar: Any) -> None:
    """Append ``(root, file names)`` for ``path`` and every folder below it (os.walk rules);
    ``bar`` (a progress bar or None) advances by each folder's entry count."""
    try:
        it = os.scandir(path)
    except OSError:  # os.walk ignores unreadable folders
        return
    files: list[str] = []
    subdirs: list[str] = []
    with it:
        for entry in it:
            try:
                is_dir = entry.is_dir()
            except OSError:
                is_dir = False
            if not is_dir:
                files.append(entry.name)
                continue
            if follow_links:
                subdirs.append(entry.path)
            else:
                try:
                    is_link = entry.is_symlink()
                except OSError:
                    is_link = False
                if not is_link:
                    subdirs.append(entry.path)
    out.append((path, files))
    if bar is not None:
        bar.update(len(files))
    for sub in subdirs:
        _scan(sub, follow_links, out, bar)


def list_files(top: str, extensions: tuple[str, ...], follow_links: bool,
               bar: Any = None) -> list[str]:
    """Relative names (OS separator) of the files under ``top`` that Keras would keep.

    Args:
        top: folder to walk (a class folder, or the root for unlabeled modern indexing).
        extensions: suffixes tested with ``name.lower().endswith(extensions)``.
        follow_links: descend into symlinked sub-folders (§A4.5).
        bar: a ``kdir_torch.progress`` bar advanced by the files seen in each folder, or None.

    Returns:
        Names relative to ``top``, in Keras's order (roots by string, names sorted).
    """
    walked: list[tuple[str, list[str]]] = []
    _scan(top, follow_links, walked, bar)
    walked.sort(key=lambda t: t[0])
    cut = len(top) if top.endswith(os.sep) else len(top) + 1
    names: list[str] = []
    for root, files in walked:
        rel = root[cut:] + os.sep if len(root) > len(top) else ""
        names.extend(rel + f for f in sorted(files) if f.lower().endswith(extensions))
    return names

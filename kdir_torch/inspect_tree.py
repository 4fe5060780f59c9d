"""``kdir-torch inspect``: what Keras makes of a directory tree, and the classic traps.

``analyze_tree`` lists the tree with the library's own functions (``index_directory`` for the
classes and counts, §A3–§A5; ``index_files``/``split_files`` for the modern split, §B4–§B5)
and adds what they do not say: the entries that are not samples (and why), listed files that
will likely fail or mislead (hidden files such as macOS ``._x.jpg`` forks, FIFOs, dangling
links, Jupyter checkpoint copies), and class orders that surprise (string sort).
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import warnings
from collections import Counter
from typing import Any

import numpy as np

from .index import LEGACY_EXTENSIONS, MODERN_EXTENSIONS, index_directory

_CHECKPOINTS = ".ipynb_checkpoints"


def _natural_key(name: str) -> list[Any]:
    """``Class_2`` < ``Class_10``: digit runs compare as numbers (types align by position)."""
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def _scan_class(top: str, exts: tuple[str, ...], follow_links: bool, out: dict[str, Counter]) -> None:
    """Count, below class folder ``top``, what is skipped and what is listed but risky.

    Mirrors ``index.walk``: every non-directory entry is a file; symlinked sub-folders are
    descended only with ``follow_links``.
    """
    try:
        entries = list(os.scandir(top))
    except OSError:
        return
    in_checkpoints = _CHECKPOINTS in top.split(os.sep)
    for entry in entries:
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            if entry.is_symlink() and not follow_links:
                out["skipped"]["symlinked folder not followed"] += 1
            else:
                _scan_class(entry.path, exts, follow_links, out)
            continue
        if not entry.name.lower().endswith(exts):
            out["skipped"]["extension not listed"] += 1
            out["extensions"][os.path.splitext(entry.name)[1].lower() or "(none)"] += 1
            continue
        if entry.name.startswith("."):
            out["risky"]["hidden file"] += 1
        if not os.path.isfile(entry.path):
            out["risky"]["not a regular file"] += 1
        if in_checkpoints:
            out["risky"]["in .ipynb_checkpoints"] += 1


def _subsets(root: str, names: list[str], split: float, modern: bool, seed: int,
             follow_links: bool) -> dict[str, Any]:
    """Per-subset totals and per-class counts under Keras's split rule."""
    parts: dict[str, np.ndarray] = {}
    if modern:
        from .datasets.modern_files import index_files, split_files

        files = index_files(root, follow_links=follow_links, seed=seed, verbose=False)
        with contextlib.redirect_stdout(io.StringIO()):  # split_files prints as Keras
            for subset in ("training", "validation"):
                parts[subset] = np.asarray(split_files(files, split, subset).labels)
        rule = f"modern: seeded global shuffle (seed={seed}), validation = last {split:g}"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for subset, cut in (("training", (split, 1.0)), ("validation", (0.0, split))):
                parts[subset] = index_directory(root, follow_links=follow_links, split=cut).classes
        rule = f"legacy: validation = first {split:g} of each class, in listing order"
    out: dict[str, Any] = {"rule": rule, "validation_split": split}
    for subset, labels in parts.items():
        counts = np.bincount(labels.astype(np.int64), minlength=len(names))
        out[subset] = {"total": int(counts.sum()),
                       "per_class": {n: int(c) for n, c in zip(names, counts)}}
    return out


def _traps(root: str, names: list[str], exts: tuple[str, ...], modern: bool,
           risky: Counter) -> list[str]:
    """Warnings for the classic mistakes (beyond those ``index_directory`` already gives)."""
    out = []
    natural = sorted(names, key=_natural_key)
    if names != natural:
        i = next(k for k, (a, b) in enumerate(zip(names, natural)) if a != b)
        out.append(f"Class indices follow plain string sort, not natural sort: {names[i]!r} "
                   f"gets index {i}, before {natural[i]!r} (index {names.index(natural[i])}). "
                   "Pass `classes=` in the order you mean if labels must match another tool.")
    if _CHECKPOINTS in names:
        out.append(f"{_CHECKPOINTS!r} is a class (a Jupyter folder): remove it or pass `classes=`.")
    if risky["in .ipynb_checkpoints"]:
        out.append(f"{risky['in .ipynb_checkpoints']} listed file(s) sit in {_CHECKPOINTS} "
                   "folders inside classes: Jupyter's checkpoint copies become samples.")
    if risky["hidden file"]:
        out.append(f"{risky['hidden file']} hidden file(s) with image extensions are listed "
                   "(e.g. macOS '._x.jpg' forks): they are samples and usually fail to decode.")
    if risky["not a regular file"]:
        out.append(f"{risky['not a regular file']} listed file(s) are not regular files "
                   "(FIFO, socket, dangling link): reading them fails.")
    root_images = [n for n in sorted(os.listdir(root))
                   if not os.path.isdir(os.path.join(root, n)) and n.lower().endswith(exts)]
    if root_images and names:
        out.append(f"{len(root_images)} image(s) directly in the root (e.g. {root_images[0]!r}) "
                   "are never samples: only root/<class>/... files are.")
    return out


def analyze_tree(root: str, *, modern: bool = False, split: float | None = None,
                 seed: int = 0, follow_links: bool = False) -> dict[str, Any]:
    """What Keras lists in ``root``, and why the rest is left out.

    Args:
        root: the tree root.
        modern: image_dataset_from_directory rules (§B2–§B3) instead of flow_from_directory's.
        split: validation fraction in ``(0, 1)`` for per-subset counts, or None.
        seed: shuffle seed of the modern split.
        follow_links: descend into symlinked sub-folders inside class folders.

    Returns:
        A JSON-ready dict: ``directory``, ``rules``, ``total``, ``num_classes``,
        ``class_indices``, ``classes`` (``index``, ``name``, ``files``, ``share`` %),
        ``imbalance_ratio`` (largest / smallest non-empty class, None without samples),
        ``skipped`` (counts by reason), ``skipped_extensions``, ``listed_risky``,
        ``hidden_folders`` (with what the rules did), ``subsets`` (None without ``split``)
        and ``warnings`` (strings).

    Raises:
        FileNotFoundError, NotADirectoryError: ``root`` is missing or a file.
    """
    formats = "modern" if modern else "legacy"
    exts = MODERN_EXTENSIONS if modern else LEGACY_EXTENSIONS
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        idx = index_directory(root, follow_links=follow_links, formats=formats)
    names = list(idx.class_names)
    counts = np.bincount(idx.classes, minlength=idx.num_classes)
    total = int(counts.sum())
    found: dict[str, Counter] = {"skipped": Counter(), "extensions": Counter(), "risky": Counter()}
    for name in dict.fromkeys(names):
        _scan_class(os.path.join(root, name), exts, follow_links, found)
    top = sorted(os.listdir(root))
    root_files = [n for n in top if not os.path.isdir(os.path.join(root, n))]
    if root_files:
        found["skipped"]["file in the root"] = len(root_files)
    hidden = [n for n in top if n.startswith(".") and os.path.isdir(os.path.join(root, n))]
    if modern and hidden:
        found["skipped"]["hidden class folder"] = len(hidden)
    non_empty = counts[counts > 0]
    return {
        "directory": root,
        "rules": formats,
        "total": total,
        "num_classes": idx.num_classes,
        "class_indices": dict(idx.class_indices),
        "classes": [{"index": i, "name": n, "files": int(c),
                     "share": round(100.0 * c / total, 2) if total else 0.0}
                    for i, (n, c) in enumerate(zip(names, counts))],
        "imbalance_ratio": (round(float(non_empty.max() / non_empty.min()), 3)
                            if len(non_empty) else None),
        "skipped": dict(found["skipped"]),
        "skipped_extensions": dict(sorted(found["extensions"].items())),
        "listed_risky": dict(found["risky"]),
        "hidden_folders": {n: ("skipped" if modern else "class") for n in hidden},
        "subsets": (_subsets(root, names, split, modern, seed, follow_links) if split else None),
        "warnings": [str(w.message) for w in caught] + _traps(root, names, exts, modern,
                                                               found["risky"]),
    }


def format_report(r: dict[str, Any]) -> str:
    """The plain-text report; its first line is ``"N images in K classes under ROOT (...)"``."""
    first = f"{r['total']} images in {r['num_classes']} classes under {r['directory']}"
    lines = [f"{first} ({r['rules']} rules)"]
    lines += [f"  {c['index']:>4}  {c['name']}: {c['files']}  ({c['share']:.1f}%)"
              for c in r["classes"]]
    ratio = r["imbalance_ratio"]
    lines.append(f"total: {r['total']}; imbalance (largest/smallest non-empty class): "
                 + (f"{ratio:g}" if ratio is not None else "n/a"))
    if r["skipped"]:
        lines.append("skipped: " + ", ".join(f"{k}: {v}" for k, v in r["skipped"].items()))
    if r["skipped_extensions"]:
        lines.append("  by extension: " + ", ".join(
            f"{k}: {v}" for k, v in r["skipped_extensions"].items()))
    for name, what in r["hidden_folders"].items():
        fate = "skipped (modern rules)" if what == "skipped" else "a class (legacy rules)"
        lines.append(f"hidden folder {name!r}: {fate}")
    if r["subsets"]:
        s = r["subsets"]
        lines.append(f"split {s['validation_split']:g} ({s['rule']}):")
        for subset in ("training", "validation"):
            per = ", ".join(f"{k}: {v}" for k, v in s[subset]["per_class"].items())
            lines.append(f"  {subset}: {s[subset]['total']} ({per})")
    lines += [f"warning: {w}" for w in r["warnings"]]
    return "\n".join(lines)

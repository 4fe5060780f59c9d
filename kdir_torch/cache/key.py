"""The key of a disk cache: what the decoded pixels depend on, hashed.

``cache_key(paths, options)`` hashes, in order:

* the format of the cache files (``FORMAT``) and the versions of kdir_torch and Pillow (a
  decoder or resampler fix changes pixels);
* ``options``: the dataset's pixel options, a dict (``target_size``, ``color_mode``,
  ``interpolation``, ``keep_aspect_ratio``, the row layout, ...). A new option that changes
  pixels is one more entry in the dataset's ``_pixel_options()``;
* the listing: every file's absolute path, in dataset order, with its size and mtime (ns).

Any change gives another key, hence other files (``disk.py``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from typing import Any

FORMAT = 1


def _versions() -> dict[str, str]:
    import PIL

    import kdir_torch

    return {"format": str(FORMAT), "kdir_torch": kdir_torch.__version__,
            "Pillow": PIL.__version__}


def cache_key(paths: Iterable[str], options: Mapping[str, Any]) -> str:
    """Hex digest (32 characters) of the listing and the pixel options.

    Args:
        paths: the dataset's files, in dataset order (one ``os.stat`` each; a missing file
            counts with size and mtime -1, so it changes the key when it appears).
        options: pixel options (JSON-able values; others are hashed by ``str``).

    Returns:
        The key, e.g. ``"3f2a..."``.
    """
    h = hashlib.sha256()
    header = {"versions": _versions(), "options": dict(options)}
    h.update(json.dumps(header, sort_keys=True, default=str).encode())
    for path in paths:
        path = os.path.abspath(path)
        try:
            st = os.stat(path)
            size, mtime = st.st_size, st.st_mtime_ns
        except OSError:
            size = mtime = -1
        h.update(f"\n{path}\0{size}\0{mtime}".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:32]

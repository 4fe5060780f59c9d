"""Helpers that build image trees in a temp dir, encoding class and file index into pixels."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image


def pattern(h: int, w: int, c: int, seed: int) -> np.ndarray:
    """A deterministic non-constant uint8 image (gradient + noise) shaped (h, w, c)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = (yy * 7 + xx * 3 + seed * 11) % 256
    noise = rng.integers(0, 40, size=(h, w, c))
    return ((base[..., None] + noise) % 256).astype(np.uint8)


def write_image(path: str, h: int = 12, w: int = 16, mode: str = "RGB", seed: int = 0) -> str:
    """Write an image file at ``path`` (format from the extension) in PIL ``mode``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = pattern(h, w, 3, seed)
    img = Image.fromarray(arr, "RGB")
    if mode == "RGBA":
        alpha = pattern(h, w, 1, seed + 1)[..., 0]
        img = Image.fromarray(np.dstack([arr, alpha]), "RGBA")
    elif mode == "I;16":
        img = Image.fromarray(pattern(h, w, 1, seed)[..., 0].astype(np.uint16) * 257 + 3)
    elif mode == "I":
        img = Image.fromarray(pattern(h, w, 1, seed)[..., 0].astype(np.int32) * 1000 - 5000)
    elif mode == "P":
        img = img.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
        img.info["transparency"] = 0
    elif mode != "RGB":
        img = img.convert(mode)
    ext = os.path.splitext(path)[1].lower()
    kwargs = {"quality": 90} if ext in (".jpg", ".jpeg") else {}
    if mode == "P" and ext == ".png":
        kwargs["transparency"] = 0
    img.save(path, **kwargs)
    return path


def make_tree(root: str, spec: Mapping[str, Sequence[str]], **image_kw) -> str:
    """Create ``root/<class>/<relative file>`` for every entry of ``spec`` (a file per name).

    Each file's pixels depend on a running counter, so distinct files differ.
    """
    k = 0
    for cls, files in spec.items():
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for rel in files:
            write_image(os.path.join(root, cls, rel), seed=k, **image_kw)
            k += 1
    return root


def touch(path: str) -> str:
    """Create an empty file (for listing-only tests)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    open(path, "wb").close()
    return path

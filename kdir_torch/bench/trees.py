"""Benchmark trees: photo-like JPEG class trees (decodable) and empty-file listing trees."""

from __future__ import annotations

import os

import numpy as np


def photo(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A natural-looking ``(h, w, 3)`` uint8 image: 1/f ("pink") noise per channel, correlated
    colours, one hard-edged object (JPEG-compresses like a photo, unlike white noise)."""
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.rfftfreq(w)[None, :]
    amp = 1.0 / np.maximum(np.hypot(fy, fx), 1.0 / max(h, w)) ** 1.8
    base = rng.normal(size=(3, h, w // 2 + 1)) + 1j * rng.normal(size=(3, h, w // 2 + 1))
    mix = np.array([[1.0, 0.6, 0.3], [0.5, 1.0, 0.5], [0.2, 0.6, 1.0]])
    field = np.fft.irfft2(base * amp, s=(h, w))
    field = np.tensordot(mix, field, axes=1)
    field = (field - field.mean()) / (field.std() + 1e-9)
    img = 128 + 45 * field.transpose(1, 2, 0)
    y0, x0 = rng.integers(0, h // 2), rng.integers(0, w // 2)
    img[y0 : y0 + h // 3, x0 : x0 + w // 3] += rng.uniform(-60, 60, size=3)
    return np.clip(img, 0, 255).astype(np.uint8)


def build_photo_tree(root: str, n_images: int = 2000, n_classes: int = 10, seed: int = 0,
                     size: tuple[int, int] = (375, 500), verbose: bool = False) -> str:
    """``root/class_k/NNNNN.jpg``: ``n_images`` photo-like JPEGs (quality 90) of about
    ``size`` = (height, width) (70 % landscape, 30 % portrait, ±20 px jitter); reused when a
    previous call with the same arguments completed it. Returns ``root``."""
    from PIL import Image

    from ..progress import progress

    h0, w0 = size
    marker = os.path.join(root, f".complete_{n_images}_{n_classes}_{seed}_{h0}x{w0}")
    if os.path.exists(marker):
        return root
    rng = np.random.default_rng(seed)
    for i in progress(range(n_images), desc="Drawing photos", unit="img", verbose=verbose):
        d = os.path.join(root, f"class_{i % n_classes}")
        os.makedirs(d, exist_ok=True)
        h, w = (h0, w0) if rng.random() < 0.7 else (w0, h0)
        h += int(rng.integers(-20, 21))
        w += int(rng.integers(-20, 21))
        Image.fromarray(photo(rng, h, w)).save(os.path.join(d, f"{i:05d}.jpg"), quality=90)
    open(marker, "w").close()
    return root


def default_root(name: str) -> str:
    """``$TMPDIR/<name>`` (``/tmp`` without TMPDIR): where benchmark trees are kept between runs."""
    return os.path.join(os.environ.get("TMPDIR", "/tmp"), name)


def photo_tree_paths(n_images: int, root: str | None = None) -> tuple[str, list[str], float]:
    """``(root, file paths in Keras order, seconds taken)`` of ``root``, or of the built-in
    tree of ``n_images`` photos (drawn under ``$TMPDIR`` on first use) when ``root`` is None."""
    import time

    import kdir_torch as kt

    t0 = time.perf_counter()
    if root is None:
        root = build_photo_tree(default_root(f"kdir_bench_photos_{n_images}"), n_images,
                                verbose=True)
    return root, list(kt.index_directory(root).filepaths), time.perf_counter() - t0


def sample_tree(root: str, n: int, dest: str) -> str:
    """A class tree under ``dest`` of symlinks to ``n`` of ``root``'s images, evenly spread over
    Keras's listing (so each class keeps its share); returns ``dest``. All of them when the
    tree holds fewer. Nothing is written into ``root``.

    Raises:
        ValueError: ``root`` holds no images Keras would list.
    """
    import kdir_torch as kt

    index = kt.index_directory(root)
    if len(index) == 0:
        raise ValueError(f"no images in {root!r} (Keras's legacy listing rules)")
    picks = np.unique(np.linspace(0, len(index) - 1, min(n, len(index))).round().astype(int))
    names = index.class_names
    for k in picks:
        src = os.path.abspath(index.filepath(int(k)))
        cls = os.path.join(dest, names[int(index.classes[k])])
        os.makedirs(cls, exist_ok=True)
        os.symlink(src, os.path.join(cls, f"{int(k):08d}_{os.path.basename(src)}"))
    return dest


def build_listing_tree(root: str, n_files: int, n_classes: int = 100) -> None:
    """Empty files with valid names: ``root/class_XX/[sub_Y/]NNNNNN.jpg`` (listing-only)."""
    made: set[str] = set()
    for i in range(n_files):
        cls = f"class_{i % n_classes:03d}"
        sub = f"sub_{(i // n_classes) % 4}" if i % 3 == 0 else ""
        d = os.path.join(root, cls, sub)
        if d not in made:
            os.makedirs(d, exist_ok=True)
            made.add(d)
        open(os.path.join(d, f"{i:07d}.jpg"), "wb").close()


def build_large_photo_tree(root: str, n_images: int = 200, n_classes: int = 4, seed: int = 0,
                           size: tuple[int, int] = (1800, 2400), n_bases: int = 4,
                           verbose: bool = False) -> str:
    """``root/class_k/NNNNN.jpg``: ``n_images`` camera-size photo-like JPEGs (quality 90),
    ``size`` = (height, width) landscape, 30 % portrait; reused once complete.

    ``photo`` costs seconds at this size, so only ``n_bases`` are drawn; every file is one of
    them rolled by a random offset, maybe mirrored, with its own colour curve and hard-edged
    object, so each file differs and compresses like a photo. Returns ``root``."""
    from PIL import Image

    from ..progress import progress

    h, w = size
    marker = os.path.join(root, f".complete_{n_images}_{n_classes}_{seed}_{h}x{w}_{n_bases}")
    if os.path.exists(marker):
        return root
    rng = np.random.default_rng(seed)
    bases = [photo(rng, h, w) for _ in progress(range(n_bases), desc="Drawing base photos",
                                                  unit="img", verbose=verbose)]
    for i in progress(range(n_images), desc="Writing photos", unit="img", verbose=verbose):
        img = np.roll(bases[i % n_bases], (int(rng.integers(h)), int(rng.integers(w))), (0, 1))
        if rng.random() < 0.5:
            img = img[:, ::-1]
        curve = np.clip(np.arange(256)[:, None] * rng.uniform(0.8, 1.2, 3)
                        + rng.uniform(-20, 20, 3), 0, 255).astype(np.uint8)
        img = np.stack([curve[img[..., c], c] for c in range(3)], -1)
        y0, x0 = int(rng.integers(0, h // 2)), int(rng.integers(0, w // 2))
        img[y0:y0 + h // 4, x0:x0 + w // 4] = rng.integers(0, 256, 3, dtype=np.uint8)
        if rng.random() < 0.3:
            img = np.ascontiguousarray(np.rot90(img))
        d = os.path.join(root, f"class_{i % n_classes}")
        os.makedirs(d, exist_ok=True)
        Image.fromarray(img).save(os.path.join(d, f"{i:05d}.jpg"), quality=90)
    open(marker, "w").close()
    return root

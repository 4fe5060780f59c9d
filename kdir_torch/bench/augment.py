"""Augmentation benchmark: batched ``Augment`` on the CPU against Keras's per-image
``random_transform`` and kornia's batched ``RandomAffine`` + ``RandomHorizontalFlip``.

The three contenders run :data:`BENCH_CONFIG` on the same float32 ``(B, 3, size, size)``
batches in 0..255, interleaved round by round (``timing.interleaved``); medians are reported.
kornia's equivalent configuration (:func:`kornia_pipeline`):

* ``rotation_range=20`` -> ``degrees=20`` (both uniform in [-20, 20] degrees);
* ``width_shift_range=height_shift_range=0.2`` -> ``translate=(0.2, 0.2)`` (fractions of the
  width and height, uniform in [-0.2, 0.2]);
* ``shear_range=0.1`` (Keras: degrees, one shear parallel to x) -> ``shear=(-0.1, 0.1, 0, 0)``;
* ``zoom_range=0.2`` (Keras: zx, zy independent in [0.8, 1.2]) -> ``scale=(0.8, 1.2, 0.8, 1.2)``;
* ``fill_mode="nearest"`` -> ``padding_mode="border"``; bilinear on both sides;
* ``horizontal_flip=True`` -> ``RandomHorizontalFlip(p=0.5)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ..augment.module import Augment
from .timing import interleaved, report

#: The augmentation every contender runs (a typical ImageDataGenerator configuration).
BENCH_CONFIG: dict[str, Any] = dict(
    rotation_range=20,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=0.1,
    zoom_range=0.2,
    horizontal_flip=True,
)

OURS = "kdir_torch Augment (batched)"
KERAS = "keras random_transform (per image)"
KORNIA = "kornia RandomAffine+RandomHorizontalFlip"


def _images(n: int, size: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, size, size, generator=g) * 255


def _batches(x: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    return [x[i : i + batch_size] for i in range(0, len(x), batch_size)]


def ours(x: torch.Tensor, batch_size: int) -> Callable[[], int]:
    """One pass of ``Augment`` over ``x`` in batches (warmed up once)."""
    aug = Augment(**BENCH_CONFIG, seed=0)
    batches = _batches(x, batch_size)

    def run() -> int:
        for i, b in enumerate(batches):
            aug(b, torch.arange(i * batch_size, i * batch_size + len(b)))
        return len(x)

    aug(batches[0], torch.arange(len(batches[0])))
    return run


def keras(x: torch.Tensor) -> Callable[[], int] | None:
    """One pass of Keras's ``random_transform`` over the images of ``x`` (HWC numpy, as Keras
    holds them); None without Keras. numpy's global RNG, which Keras draws from, is restored."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        from keras.src.legacy.preprocessing.image import ImageDataGenerator
    except ImportError:
        return None
    gen = ImageDataGenerator(**BENCH_CONFIG)
    images = list(x.permute(0, 2, 3, 1).contiguous().numpy())

    def run() -> int:
        state = np.random.get_state()
        try:
            for img in images:
                gen.random_transform(img)
        finally:
            np.random.set_state(state)
        return len(images)

    gen.random_transform(images[0])
    return run


def kornia_pipeline() -> torch.nn.Module | None:
    """kornia's equivalent of :data:`BENCH_CONFIG` (module docstring); None without kornia."""
    try:
        import kornia.augmentation as K
    except ImportError:
        return None
    return torch.nn.Sequential(
        K.RandomAffine(degrees=20, translate=(0.2, 0.2), scale=(0.8, 1.2, 0.8, 1.2),
                       shear=(-0.1, 0.1, 0.0, 0.0), padding_mode="border", p=1.0),
        K.RandomHorizontalFlip(p=0.5),
    )


def kornia(x: torch.Tensor, batch_size: int) -> Callable[[], int] | None:
    """One pass of :func:`kornia_pipeline` over the same batches; None without kornia."""
    pipe = kornia_pipeline()
    if pipe is None:
        return None
    batches = _batches(x, batch_size)

    def run() -> int:
        with torch.no_grad():
            for b in batches:
                pipe(b)
        return len(x)

    with torch.no_grad():
        pipe(batches[0])
    return run


def augment_throughput(n_images: int = 256, size: int = 224, batch_size: int = 32,
                       rounds: int = 3) -> dict[str, Any]:
    """Images per second of ``Augment``, Keras and kornia on the same images, interleaved.

    Args:
        n_images: images per contender and round. size: image height and width.
        batch_size: batch size of the batched contenders. rounds: interleaved rounds.

    Returns:
        dict with ``n_images``, ``size``, ``batch_size``, ``threads`` (torch intra-op threads),
        ``rounds``, the median rates ``ours_images_per_s``, ``keras_images_per_s`` and
        ``kornia_images_per_s`` (None when not installed), ``ratio`` (ours / Keras) and
        ``kornia_ratio`` (ours / kornia), None where the peer is missing.

    Raises:
        ValueError: if a count is not positive.
    """
    for name, v in (("n_images", n_images), ("size", size), ("batch_size", batch_size),
                    ("rounds", rounds)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"`{name}` must be a positive int. Received: {name}={v!r}")
    x = _images(n_images, size)
    runs = {OURS: ours(x, batch_size), KERAS: keras(x), KORNIA: kornia(x, batch_size)}
    threads = torch.get_num_threads()
    print(f"[augment] {size}x{size} float32, batch {batch_size}, {threads} threads, {n_images} "
          f"images; {rounds} interleaved rounds, median shown")
    res = interleaved(runs, rounds, verbose=True)  # a bar on stderr when rounds are slow
    bound = KERAS if KERAS in res else OURS
    med = report("augment", runs, res, bound=bound, ours=OURS,
                 reference="Keras" if bound == KERAS else "ours")
    keras_rate, kornia_rate = med.get(KERAS), med.get(KORNIA)
    return {
        "n_images": n_images,
        "size": size,
        "batch_size": batch_size,
        "threads": threads,
        "rounds": rounds,
        "ours_images_per_s": med[OURS],
        "keras_images_per_s": keras_rate,
        "kornia_images_per_s": kornia_rate,
        "ratio": None if keras_rate is None else med[OURS] / keras_rate,
        "kornia_ratio": None if kornia_rate is None else med[OURS] / kornia_rate,
    }

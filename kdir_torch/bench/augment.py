"""Throughput of the batched CPU augmentation path against Keras's per-image ``random_transform``."""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np
import torch

from ..augment.module import Augment

#: The augmentation both sides run (a typical ImageDataGenerator configuration).
BENCH_CONFIG: dict[str, Any] = dict(
    rotation_range=20,
    width_shift_range=0.2,
    height_shift_range=0.2,
    shear_range=0.1,
    zoom_range=0.2,
    horizontal_flip=True,
)


def _images(n: int, size: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, size, size, generator=g) * 255


def _time_ours(x: torch.Tensor, batch_size: int) -> float:
    aug = Augment(**BENCH_CONFIG, seed=0)
    aug(x[:batch_size], torch.arange(min(batch_size, len(x))))  # warm-up
    start = time.perf_counter()
    for i in range(0, len(x), batch_size):
        aug(x[i : i + batch_size], torch.arange(i, min(i + batch_size, len(x))))
    return time.perf_counter() - start


def _time_keras(x: torch.Tensor) -> float | None:
    os.environ.setdefault("KERAS_BACKEND", "torch")
    try:
        from keras.src.legacy.preprocessing.image import ImageDataGenerator
    except ImportError:
        return None
    gen = ImageDataGenerator(**BENCH_CONFIG)
    images = [img for img in x.permute(0, 2, 3, 1).contiguous().numpy()]  # Keras holds HWC arrays
    state = np.random.get_state()  # Keras draws from numpy's global RNG: leave it as we found it
    try:
        gen.random_transform(images[0])  # warm-up
        start = time.perf_counter()
        for img in images:
            gen.random_transform(img)
        return time.perf_counter() - start
    finally:
        np.random.set_state(state)


def augment_throughput(n_images: int = 256, size: int = 224, batch_size: int = 32) -> dict[str, Any]:
    """Images per second of ``Augment`` (batched, CPU) and of Keras's per-image path, same run.

    Both sides apply :data:`BENCH_CONFIG` (rotation 20, shifts 0.2, shear 0.1, zoom 0.2,
    horizontal flip; bilinear, ``nearest`` fill) to the same float32 ``size x size`` RGB
    images. Keras is imported lazily (``KERAS_BACKEND=torch`` unless set); without it only
    our number is reported.

    Args:
        n_images: images per side. size: image height and width. batch_size: our batch size.

    Returns:
        dict with ``n_images``, ``size``, ``batch_size``, ``threads`` (torch intra-op threads),
        ``ours_images_per_s``, ``keras_images_per_s`` (None without Keras) and ``ratio``
        (ours / Keras, None without Keras).

    Raises:
        ValueError: if a count is not positive.
    """
    for name, v in (("n_images", n_images), ("size", size), ("batch_size", batch_size)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"`{name}` must be a positive int. Received: {name}={v!r}")
    x = _images(n_images, size)
    ours = n_images / _time_ours(x, batch_size)
    keras_s = _time_keras(x)
    keras = None if keras_s is None else n_images / keras_s
    return {
        "n_images": n_images,
        "size": size,
        "batch_size": batch_size,
        "threads": torch.get_num_threads(),
        "ours_images_per_s": ours,
        "keras_images_per_s": keras,
        "ratio": None if keras is None else ours / keras,
    }

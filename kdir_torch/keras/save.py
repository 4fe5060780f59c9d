"""``save_to_dir``: write augmented batches as image files, as Keras's iterators do (§A13).

Each image is converted like Keras's ``array_to_img(x, data_format, scale=True)`` (per-image
min-max to 0..255 in float32, uint8 truncation) and saved as
``{save_prefix}_{index}_{hash}.{save_format}``, with PIL picking the format from the
extension. ``hash`` is an integer in ``[0, 10**7)`` as in Keras (``[0, 10**4)`` for
``NumpyArrayIterator``, also as in Keras), but drawn from
``kdir_torch._rng`` (a function of the seed, a counter and the sample index) instead of
numpy's global RNG, so saving never perturbs any other random stream.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from kdir_torch._rng import derive_seed, fresh_seed, uniforms
from kdir_torch._validation import check_data_format

__all__ = ["batch_to_uint8", "file_hashes", "save_batch"]

_SAVE_TAG = 0x5A7E  # seed-derivation counter separating file-name hashes from other draws
_HASH_RANGE = 10**7


def batch_to_uint8(x: torch.Tensor, data_format: str) -> np.ndarray:
    """Keras's ``array_to_img(scale=True)`` pixels for a whole batch (keras-semantics Part C).

    Per image: ``x - min``, divided by the new max when it is not 0, times 255, all in
    float32, then truncated to uint8.

    Args:
        x: ``(B, C, H, W)`` (channels_first) or ``(B, H, W, C)`` (channels_last) tensor.
        data_format: layout of ``x``.

    Returns:
        uint8 numpy array ``(B, H, W, C)``.

    Raises:
        ValueError: ``x`` is not rank 4, or has a channel count other than 1, 3 or 4
            (Keras's ``Unsupported channel number: {c}``).
    """
    if x.dim() != 4:
        raise ValueError(
            f"`x` must be a batch of images (rank 4). Received: x.shape={tuple(x.shape)}"
        )
    x = x.detach().to(device="cpu", dtype=torch.float32)
    if check_data_format(data_format) == "channels_first":
        x = x.permute(0, 2, 3, 1)
    if x.shape[-1] not in (1, 3, 4):
        raise ValueError(f"Unsupported channel number: {x.shape[-1]}")
    x = x - x.amin(dim=(1, 2, 3), keepdim=True)
    peak = x.amax(dim=(1, 2, 3), keepdim=True)
    x = x / torch.where(peak != 0, peak, torch.ones_like(peak))
    return (x * 255).to(torch.uint8).numpy()


def file_hashes(indices: Any, seed_counter: int | Sequence[int] | None,
                hash_range: int = _HASH_RANGE) -> np.ndarray:
    """The ``hash`` part of the file names: ints in ``[0, hash_range)``, one per sample.

    Args:
        indices: ``(B,)`` dataset indices.
        seed_counter: ``(seed, counter)`` (e.g. the iterator's seed and batches seen), a bare
            ``seed`` (counter 0), or None for a seed drawn from torch's default generator.
        hash_range: exclusive upper bound (Keras: ``10**7``, ``10**4`` for arrays).

    Returns:
        int64 numpy array ``(B,)``.

    Raises:
        TypeError: ``seed_counter`` is not an int, a sequence of ints, or None.
    """
    if seed_counter is None:
        seed, counter = fresh_seed(), 0
    elif isinstance(seed_counter, (int, np.integer)) and not isinstance(seed_counter, bool):
        seed, counter = int(seed_counter), 0
    elif isinstance(seed_counter, Sequence) and len(seed_counter) == 2:
        seed, counter = (int(v) for v in seed_counter)
    else:
        raise TypeError(
            "`seed_counter` must be an int, a (seed, counter) pair or None. "
            f"Received: seed_counter={seed_counter!r}"
        )
    u = uniforms(derive_seed(seed, _SAVE_TAG), counter, np.asarray(indices, dtype=np.int64), 0)
    return np.floor(u * hash_range).astype(np.int64)


def save_batch(
    x: torch.Tensor,
    indices: Any,
    save_to_dir: str | os.PathLike[str],
    save_prefix: str = "",
    save_format: str = "png",
    data_format: str = "channels_first",
    seed_counter: int | Sequence[int] | None = None,
    hash_range: int = _HASH_RANGE,
) -> list[str]:
    """Save every image of a batch the way Keras's ``save_to_dir`` does (keras-semantics §A13).

    Args:
        x: the transformed, standardized batch in ``data_format`` layout:
            ``(B, C, H, W)`` or ``(B, H, W, C)``; any float dtype, any device.
        indices: ``(B,)`` dataset indices (the ``{index}`` part of the names).
        save_to_dir: existing directory.
        save_prefix: file-name prefix (Keras's default "" gives ``_{index}_{hash}.png``).
        save_format: extension; PIL derives the format from it ("png", "jpeg", "jpg", ...).
        data_format: layout of ``x``.
        seed_counter, hash_range: see :func:`file_hashes`.

    Returns:
        The paths written, in batch order.

    Raises:
        FileNotFoundError: ``save_to_dir`` does not exist (checked before writing anything).
        ValueError: ``indices`` does not match the batch, bad ``data_format``, unsupported
            channel count, or an extension PIL does not know.
        OSError: PIL cannot write the mode in that format (e.g. RGBA as JPEG, as in Keras).
    """
    directory = os.fspath(save_to_dir)
    if not os.path.isdir(directory):
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), directory)
    index_array = np.asarray(
        indices.detach().cpu() if isinstance(indices, torch.Tensor) else indices
    ).reshape(-1)
    if index_array.shape[0] != x.shape[0]:
        raise ValueError(
            "`indices` must have one entry per image. "
            f"Received: {index_array.shape[0]} indices for a batch of {x.shape[0]}"
        )
    pixels = batch_to_uint8(x, data_format)
    hashes = file_hashes(index_array, seed_counter, hash_range)
    paths = []
    for img, j, h in zip(pixels, index_array, hashes, strict=True):
        path = os.path.join(directory, f"{save_prefix}_{int(j)}_{int(h)}.{save_format}")
        Image.fromarray(img[:, :, 0] if img.shape[-1] == 1 else img).save(path)
        paths.append(path)
    return paths

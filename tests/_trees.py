"""Test helpers for the loader / iterator tests: index-encoding image trees and an augmenter.

``indexed_tree`` writes ``root/<class>/<k>.png`` where the file that Keras lists at position
``k`` (class order, then sorted names; keras-semantics §A3/§A4) has every pixel of channel 0 equal
to ``k`` and channel 1 equal to its class index, so order and labels can be read back from the
tensors alone. ``CounterAugment`` follows the ``Augment`` protocol (``make_params`` /
``apply``) with draws from ``kdir_torch._rng`` keyed by ``(seed, epoch, index)``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from kdir_torch._rng import uniforms


def indexed_tree(root: str | os.PathLike, counts: Mapping[str, int], size: tuple[int, int] = (6, 5),
                 seed: int = 0) -> str:
    """Create the tree; file ``k`` (global listing order) encodes ``k`` in channel 0.

    Args:
        root: folder to create.
        counts: class name -> number of files (classes are listed in sorted order).
        size: ``(height, width)`` of every image.
        seed: seed of the noise in channel 2 (so images are not flat).

    Returns:
        ``str(root)``.
    """
    rng = np.random.default_rng(seed)
    k = 0
    for c, name in enumerate(sorted(counts)):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for j in range(counts[name]):
            arr = np.empty((*size, 3), np.uint8)
            arr[..., 0], arr[..., 1] = k, c
            arr[..., 2] = rng.integers(0, 256, size)
            Image.fromarray(arr).save(os.path.join(root, name, f"{j:03d}.png"))
            k += 1
    return str(root)


def corrupt(path: str | os.PathLike) -> None:
    """Overwrite an image file with bytes no decoder accepts."""
    with open(path, "wb") as fh:
        fh.write(b"this is not an image")


@dataclass(frozen=True)
class CounterParams:
    """Per-sample draws: a horizontal flip flag and an additive offset."""

    flip: torch.Tensor
    offset: torch.Tensor

    def to(self, device: torch.device | str) -> CounterParams:
        return CounterParams(self.flip.to(device), self.offset.to(device))


class CounterAugment:
    """Flip + brightness offset with per-sample draws from ``(seed, epoch, index)``."""

    is_identity = False

    def __init__(self, seed: int = 0) -> None:
        self.seed = seed

    def make_params(self, image_hw: tuple[int, int], indices: torch.Tensor, *, epoch: int = 0,
                    seed: int | None = None) -> CounterParams:
        seed = self.seed if seed is None else seed
        idx = torch.as_tensor(indices).cpu().numpy()
        flip = torch.from_numpy(uniforms(seed, epoch, idx, 0) < 0.5)
        offset = torch.from_numpy(uniforms(seed, epoch, idx, 1) * 50.0).float()
        return CounterParams(flip, offset)

    def apply(self, x: torch.Tensor, params: CounterParams) -> torch.Tensor:
        flipped = torch.where(params.flip[:, None, None, None], x.flip(-1), x)
        return flipped + params.offset.to(x.dtype)[:, None, None, None]

    def __call__(self, x: torch.Tensor, indices: torch.Tensor, *, epoch: int = 0,
                 seed: int | None = None) -> torch.Tensor:
        return self.apply(x, self.make_params(tuple(x.shape[-2:]), indices, epoch=epoch,
                                              seed=seed).to(x.device))


def stacked_items(ds, indices, epoch: int = 0):
    """``ds[i]`` for ``i`` in ``indices`` at ``epoch``, stacked: ``(x, y)`` or ``x``."""
    ds.set_epoch(epoch)
    items = [ds[int(i)] for i in indices]
    if isinstance(items[0], tuple):
        return tuple(torch.stack(parts) for parts in zip(*items))
    return torch.stack(items)

"""``kdir-torch preview``: a grid of a tree's images as Keras lists them, optionally augmented.

The batch is ``n`` images of ``KerasDirDataset(root, target_size=(size, size))`` (legacy
listing, channels_first, 0..255 floats) picked by a seeded shuffle
(``np.random.default_rng(seed).permutation``, first ``n``). An ``Augment`` is applied
with the dataset indices as sample indices, epoch 0, and ``seed`` unless the pairs set one.
With ``original=True`` the grid alternates tiles: original, then
its augmented version (the column count is rounded up to an even number so each pair shares a
row).
"""

from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np
import torch


def augment_keys() -> list[str]:
    """The keyword arguments ``kt.Augment`` accepts, sorted."""
    from .augment import Augment

    return sorted(k for k in inspect.signature(Augment.__init__).parameters if k != "self")


def _value(text: str) -> Any:
    """``true``/``false`` -> bool, ints, floats, ``a:b`` -> tuple, ``none`` -> None, else str."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    if ":" in text:
        return tuple(_value(part) for part in text.split(":"))
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


def parse_augment(text: str) -> dict[str, Any]:
    """Parse ``"rotation_range=20,horizontal_flip=true,zoom_range=0.8:1.2"`` into kwargs.

    Args:
        text: comma-separated ``key=value`` pairs; values are bools (``true``/``false``), ints,
            floats, ``a:b`` tuples, ``none`` or strings (``fill_mode=reflect``).

    Returns:
        ``{key: value}``, checked by building ``kt.Augment(**kwargs)``.

    Raises:
        ValueError: a pair without ``=``, unknown keys (all named) or values ``kt.Augment``
            rejects (its own message).
    """
    from .augment import Augment

    kwargs: dict[str, Any] = {}
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = pair.partition("=")
        if not eq or not key.strip():
            raise ValueError(f"expected key=value pairs, got {pair!r}")
        kwargs[key.strip()] = _value(value)
    known = augment_keys()
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ValueError(f"unknown Augment key(s) {', '.join(unknown)}; "
                         f"known keys: {', '.join(known)}")
    try:
        Augment(**kwargs)
    except (TypeError, ValueError) as e:
        raise ValueError(str(e)) from e
    return kwargs


def preview_batch(root: str, *, n: int = 32, size: int = 128, seed: int = 0,
                  augment: dict[str, Any] | None = None, original: bool = False,
                  ) -> tuple[torch.Tensor, np.ndarray, dict[str, int]]:
    """The images, labels and class indices a preview grid shows.

    Args:
        root: tree root (``root/class/.../image``), listed with flow_from_directory rules.
        n: number of images (fewer when the tree has fewer).
        size: images are resized to ``(size, size)`` (nearest, as Keras's default).
        seed: picks the images and seeds the ``Augment`` unless ``augment`` has a seed.
        augment: ``kt.Augment`` keyword arguments, or None for the images as loaded.
        original: interleave each original image before its augmented version.

    Returns:
        ``x`` ``(m, 3, size, size)`` float32 0..255, ``y`` ``(m,)`` int32 class indices,
        and ``class_indices``; ``m = n`` (``2n`` with ``original``), at most the tree's size.

    Raises:
        FileNotFoundError, NotADirectoryError: ``root`` is missing or not a folder.
        ValueError: the tree holds no image Keras would list.
    """
    from .augment import Augment
    from .datasets import KerasDirDataset

    if not os.path.isdir(root):
        kind = NotADirectoryError if os.path.exists(root) else FileNotFoundError
        raise kind(f"{root!r} is not a directory" if os.path.exists(root)
                   else f"directory {root!r} does not exist")
    ds = KerasDirDataset(root, target_size=(size, size), class_mode="sparse", verbose=False)
    if len(ds) == 0:
        raise ValueError(f"no images in {root!r} as Keras lists them (root/<class>/<image>, "
                         f"{ds.num_classes} class folder(s))")
    picked = np.random.default_rng(seed).permutation(len(ds))[:n]
    x = torch.stack([ds[int(i)][0] for i in picked])
    y = ds.classes[picked]
    if augment is None:
        return x, y, ds.class_indices
    aug = Augment(**{"seed": seed, **augment})
    out = aug(x, torch.as_tensor(picked), epoch=0)
    if original:
        out = torch.stack([x, out], dim=1).flatten(0, 1)
        y = np.repeat(y, 2)
    return out, y, ds.class_indices

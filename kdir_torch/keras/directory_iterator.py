"""Keras's legacy ``DirectoryIterator`` (``flow_from_directory``) on top of kdir_torch layers.

Composition only: a ``KerasDirDataset`` (listing, decoding, labels; built without augmentation)
driven by ``LoaderIterator`` (Keras's iterator protocol over ``make_loader``; its module
docstring lists the differences from Keras). Batches are x ``(B, H, W, C)``/``(B, C, H, W)`` of
the generator dtype and labels per keras-semantics §A9.

``filenames`` and ``filepaths`` are Python lists, as Keras's (``json.dump``, ``+`` and numpy
fancy indexing work on them); the dataset keeps its compact ``StringTable``, and the lists are
built once, on first access, in this process only (workers never touch them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from kdir_torch.datasets import KerasDirDataset
from kdir_torch.keras.iterator import (
    LoaderIterator,
    check_loader_args,
    forward_attributes,
    list_attributes,
)
from kdir_torch.loader import checks
from kdir_torch.loader.factory import DEFAULT_TIMEOUT

__all__ = ["DirectoryIterator"]

_FORWARDED = (
    "class_indices", "classes", "labels", "num_classes", "samples",
    "image_shape", "directory", "target_size", "color_mode", "class_mode", "interpolation",
    "keep_aspect_ratio", "split", "subset", "data_format", "dtype", "jpeg_draft",
)


class DirectoryIterator(LoaderIterator):
    """Iterator over a ``class/.../image`` tree, Keras's ``DirectoryIterator`` (§A1-§A9).

    Args:
        directory: root folder, one sub-folder per class.
        image_data_generator: the ``ImageDataGenerator`` whose ``transform_batch`` augments
            and standardizes, and whose ``validation_split``/``data_format``/``dtype`` apply.
        target_size, color_mode, classes, class_mode, follow_links, subset, interpolation,
            keep_aspect_ratio: as ``flow_from_directory`` (§A1-§A5, §A8).
        batch_size: samples per batch; 0 is accepted for an empty directory only (Keras's
            ``next(it)`` then yields the empty batch; ``len(it)`` is 0 where Keras divides by
            zero), a ValueError otherwise.
        shuffle: new order each epoch.
        seed: order and augmentation seed; None draws one from torch's default generator
            (``it.seed`` stays None).
        data_format, dtype: None -> the generator's.
        save_to_dir, save_prefix, save_format: save every yielded image (§A13).
        num_workers: decoding processes for ``next()``/``for`` (0 = in this process).
        device: where batches are delivered (None = CPU). pin_memory: None = CUDA only.
        timeout: seconds one image read may take, any ``num_workers`` (0 = no limit).
        decode_on: "host" or "device" (JPEGs decoded on the CUDA ``device``; see
            ``kt.make_loader``).
        on_error: "raise" (Keras) or "skip" a file that cannot be read (batches are then
            smaller; ``it.loader.skipped`` lists them). After an error ``next(it)`` goes on
            with the next batch, as Keras.
        jpeg_draft: reduced-DCT JPEG decoding (``KerasDirDataset``; not a Keras option).
        cache, cache_dir, cache_bytes: the decoded cache, as ``KerasDirDataset``'s.

    Raises:
        ValueError / TypeError: Keras's validation (§A2, §A16) and the loader's argument checks.
    """

    white_list_formats = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
    allowed_class_modes = {"categorical", "binary", "sparse", "input", None}

    def __init__(
        self, directory: str, image_data_generator: Any, target_size: tuple[int, int] = (256, 256),
        color_mode: str = "rgb", classes: Sequence[str] | None = None,
        class_mode: str | None = "categorical", batch_size: int = 32, shuffle: bool = True,
        seed: int | None = None, data_format: str | None = None, save_to_dir: str | None = None,
        save_prefix: str = "", save_format: str = "png", follow_links: bool = False,
        subset: str | None = None, interpolation: str = "nearest",
        keep_aspect_ratio: bool = False, dtype: torch.dtype | str | None = None,
        num_workers: int = 0, device: str | torch.device | None = None,
        pin_memory: bool | None = None, timeout: float = DEFAULT_TIMEOUT,
        on_error: str = "raise", jpeg_draft: bool = False, cache: str | None = None,
        cache_dir: str | None = None, cache_bytes: int | None = None, decode_on: str = "host",
    ) -> None:
        gen = image_data_generator
        checks.check_batch_size(batch_size)  # 0 is checked again once the tree is listed
        check_loader_args(batch_size or 1, shuffle, seed, num_workers, device, pin_memory,
                          timeout, on_error, decode_on)
        dataset = KerasDirDataset(
            directory, target_size, color_mode, classes, class_mode, interpolation,
            keep_aspect_ratio, follow_links, getattr(gen, "_validation_split", 0.0), subset,
            gen.data_format if data_format is None else data_format,
            gen.dtype if dtype is None else dtype, augment=None, standardize=None,
            on_error=on_error, jpeg_draft=jpeg_draft, cache=cache, cache_dir=cache_dir,
            cache_bytes=cache_bytes,
        )
        checks.check_batch_size(batch_size, len(dataset))
        super().__init__(dataset, gen, batch_size, shuffle, seed, save_to_dir, save_prefix,
                         save_format, num_workers, device, pin_memory, timeout,
                         decode_on=decode_on)

    def __len__(self) -> int:
        """``ceil(n / batch_size)`` (§A6); 0 for ``batch_size=0`` (an empty directory)."""
        return 0 if self.batch_size == 0 else super().__len__()

    def __repr__(self) -> str:
        return (f"DirectoryIterator({self.directory!r}, n={self.n}, batch_size={self.batch_size}, "
                f"shuffle={self.shuffle}, seed={self.seed})")


forward_attributes(DirectoryIterator, _FORWARDED)
list_attributes(DirectoryIterator, ("filenames", "filepaths"))

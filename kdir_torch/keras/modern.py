"""``image_dataset_from_directory``: Keras 3's modern API on torch datasets (keras-semantics Part B).

Every argument is checked in Keras's order with Keras's messages (§B1, §B9); the file list,
labels, seeded global shuffle and split equal Keras's (§B2–§B5, with the upstream fix for tiny
validation fractions); pixels follow TF's decoder and resizers (§B7, see
``kdir_torch.io.modern``). Decisions where Keras cannot be followed literally:

* ``data_format=None`` means ``"channels_last"`` (Keras's default ``image_data_format()``);
  pass ``"channels_first"`` for PyTorch's layout.
* ``seed=None`` draws a seed in ``[0, 10**6)`` like Keras's ``np.random.randint(1e6)``, but
  from ``kdir_torch._rng.fresh_seed()`` (torch's default generator, so ``torch.manual_seed``
  makes it reproducible): numpy's global RNG is never touched.
* ``format="grain"`` is accepted and behaves exactly like ``"tf"`` (Keras's grain pipeline
  decodes with PIL and pads differently; we implement the TF pipeline for both).
* The per-epoch shuffle of the returned dataset (TF's shuffle buffer) is our seeded
  permutation; ``file_paths`` and split membership are Keras's exactly.
* Explicit ``labels``: a list is shuffled **in place** like Keras (it stays aligned with
  ``file_paths``); a tuple is accepted and left untouched (Keras crashes on tuples); labels
  must be numbers (no string label tensors in torch).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .._rng import fresh_seed
from .._validation import check_bool, check_on_error
from ..cache import check_cache_args
from ..datasets.modern import (
    ModernDirDataset,
    check_color_mode,
    check_data_format,
    check_image_size,
    check_interpolation,
    check_label_mode,
)
from ..datasets.modern_files import FileList, index_files, split_files
from ..index import MODERN_EXTENSIONS
from ..loader.checks import check_timeout
from ..loader.factory import DEFAULT_TIMEOUT
from .batched import BatchedDataset


def _check_labels(labels: Any, label_mode: Any, class_names: Any) -> tuple[Any, Any]:
    """§B1 steps 1–3; returns ``(labels, label_mode)`` with "no labels" normalised to None."""
    if labels not in ("inferred", None):
        if not isinstance(labels, (list, tuple)):
            raise ValueError(
                "`labels` argument should be a list/tuple of integer labels, of the same size "
                "as the number of image files in the target directory. If you wish to infer "
                "the labels from the subdirectory names in the target directory, pass "
                '`labels="inferred"`. If you wish to get a dataset that only contains images '
                f"(no labels), pass `labels=None`. Received: labels={labels}"
            )
        if class_names:
            raise ValueError(
                'You can only pass `class_names` if `labels="inferred"`. '
                f"Received: labels={labels}, and class_names={class_names}"
            )
    check_label_mode(label_mode)
    if labels is None or label_mode is None:
        return None, None
    return labels, label_mode


def _check_image_size(image_size: Any) -> tuple[Any, Any]:
    """§B1 step 5: an int n becomes ``(n, n)``; otherwise a list/tuple of length 2."""
    if isinstance(image_size, int):
        return image_size, image_size
    if not isinstance(image_size, (list, tuple)) or not len(image_size) == 2:
        raise ValueError(
            "Invalid `image_size` value. Expected a tuple of 2 integers. "
            f"Received: image_size={image_size}"
        )
    return image_size[0], image_size[1]


def _check_interpolation(interpolation: Any) -> str:
    """§B1 step 6: lower-cased, then one of the 8 TF methods."""
    if not isinstance(interpolation, str):
        raise TypeError(
            f"`interpolation` must be a string. Received: interpolation={interpolation!r}"
        )
    interpolation = interpolation.lower()
    check_interpolation(interpolation)
    return interpolation


def check_validation_split_arg(validation_split: Any, subset: Any, shuffle: Any,
                               seed: Any) -> None:
    """Keras's ``check_validation_split_arg`` (§B5), same checks, same order, same texts."""
    if validation_split and not 0 < validation_split < 1:
        raise ValueError(
            f"`validation_split` must be between 0 and 1, received: {validation_split}"
        )
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("If `subset` is set, `validation_split` must be set, and inversely.")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(
            f'`subset` must be either "training", "validation" or "both", received: {subset}'
        )
    if validation_split and shuffle and seed is None:
        raise ValueError(
            "If using `validation_split` and shuffling the data, you must provide a `seed` "
            "argument, to make sure that there is no overlap between the training and "
            "validation subset."
        )


def _check_loader_args(batch_size: Any, num_workers: Any, timeout: Any, on_error: Any) -> None:
    """Our checks for what Keras leaves to ``tf.data`` (TypeError for types)."""
    check_timeout(timeout)
    check_on_error(on_error)
    if batch_size is not None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(
                f"`batch_size` must be an int or None. Received: batch_size={batch_size!r}"
            )
        if batch_size < 1:
            raise ValueError(f"`batch_size` must be positive. Received: batch_size={batch_size}")
    if isinstance(num_workers, bool) or not isinstance(num_workers, (int, np.integer)):
        raise TypeError(f"`num_workers` must be an int. Received: num_workers={num_workers!r}")
    if num_workers < 0:
        raise ValueError(f"`num_workers` must be >= 0. Received: num_workers={num_workers}")


def _standardize_data_format(data_format: Any) -> str:
    """Keras's ``standardize_data_format`` with the default config (None -> channels_last)."""
    if data_format is None:
        return "channels_last"
    return check_data_format(str(data_format).lower())


def _no_images(directory: Any, which: str = "") -> ValueError:
    return ValueError(f"No {which}images found in directory {directory}. "
                      f"Allowed formats: {MODERN_EXTENSIONS}")


def image_dataset_from_directory(
    directory: str | os.PathLike,
    labels: str | Sequence[Any] | None = "inferred",
    label_mode: str | None = "int",
    class_names: Sequence[str] | None = None,
    color_mode: str = "rgb",
    batch_size: int | None = 32,
    image_size: int | tuple[int, int] = (256, 256),
    shuffle: bool = True,
    seed: int | None = None,
    validation_split: float | None = None,
    subset: str | None = None,
    interpolation: str = "bilinear",
    follow_links: bool = False,
    crop_to_aspect_ratio: bool = False,
    pad_to_aspect_ratio: bool = False,
    data_format: str | None = None,
    format: str = "tf",
    verbose: bool = True,
    *,
    num_workers: int = 0,
    timeout: float = DEFAULT_TIMEOUT,
    on_error: str = "raise",
    jpeg_draft: bool = False,
    cache: str | None = None,
    cache_dir: str | os.PathLike | None = None,
    cache_bytes: int | None = None,
) -> BatchedDataset | list[BatchedDataset]:
    """Images of a directory tree as Keras 3's ``image_dataset_from_directory`` gives them.

    Args:
        directory: root folder (kept as given in ``file_paths``), or a list of roots: classes
            merged by name, absolute paths (``kdir_torch.datasets.modern_roots``).
        labels: "inferred" (sub-folder = class), None (images only, whole tree from the
            root), or a list/tuple of numeric labels, one per file of the whole tree in sorted
            listing order.
        label_mode: "int" (int32 ``(B,)``), "categorical" (float32 one-hot ``(B, K)``),
            "binary" (float32 ``(B, 1)``, exactly 2 classes) or None (images only).
        class_names: sub-folders to use, in this order (a subset of the non-hidden ones).
        color_mode: "rgb", "rgba" or "grayscale" (3, 4 or 1 channels).
        batch_size: batch size, or None to yield single elements.
        image_size: ``(height, width)`` or an int for a square.
        shuffle: seeded global shuffle of the file list, and a new order every epoch.
        seed: shuffle seed (required with ``validation_split`` when shuffling).
        validation_split: fraction (0, 1) held out: the **last** ``int(v * N)`` files.
        subset: "training", "validation" or "both" (returns ``[train, val]``).
        interpolation: bilinear, nearest, bicubic, area, lanczos3, lanczos5, gaussian or
            mitchellcubic (case-insensitive), TF's kernels without antialiasing.
        follow_links: descend into symlinked sub-folders.
        crop_to_aspect_ratio: centre-crop to the target aspect ratio before resizing.
        pad_to_aspect_ratio: resize to fit, then zero-pad (``tf.image.resize_with_pad``).
        data_format: "channels_last" (also for None, Keras's default) or "channels_first".
        format: "tf" or "grain" (same behaviour here).
        verbose: print ``Found N files belonging to K classes.``.
        num_workers: decoding worker processes used when iterating (0: in-process).
        timeout: seconds one image read may take, for any ``num_workers`` (0 = no limit).
        on_error: "raise" (Keras) or "skip" a file that cannot be read: its batch is
            smaller, a warning per epoch gives the count, ``ds.skipped`` lists them.
        jpeg_draft: decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) that keeps the
            resized region at >= ``image_size``, then resize (``ModernDirDataset``): faster
            on large photos, not Keras's pixels. Not a Keras option.
        cache: None, "memory" or "disk": keep the decoded images for later epochs (each
            returned dataset has its own; ``ds.dataset.fill_cache()`` fills it up front).
        cache_dir: folder of the disk cache (required with, and only with, "disk").
        cache_bytes: most bytes of pixels each dataset caches (None: the default budget).

    Returns:
        A ``BatchedDataset`` yielding ``(images, labels)`` or ``images`` (float32 0..255,
        uint8 for nearest), with ``class_names`` and ``file_paths``; ``[train, val]`` for
        ``subset="both"`` (the validation half is never shuffled).

    Raises:
        ValueError: any check of keras-semantics §B9, with Keras's message.
        TypeError: wrongly typed ``interpolation``/``batch_size``/``num_workers`` or
            non-numeric explicit labels.
        FileNotFoundError: missing ``directory`` with inferred labels.
    """
    labels, label_mode = _check_labels(labels, label_mode, class_names)
    check_color_mode(color_mode)
    image_size = _check_image_size(image_size)
    interpolation = _check_interpolation(interpolation)
    if format not in ("tf", "grain"):
        raise ValueError(f'`format` should be either "tf" or "grain". Received: format={format}')
    check_validation_split_arg(validation_split, subset, shuffle, seed)
    image_size = check_image_size(image_size)
    _check_loader_args(batch_size, num_workers, timeout, on_error)
    check_bool("jpeg_draft", jpeg_draft)
    check_cache_args(cache, cache_dir, cache_bytes, image_size, "image_size")
    if seed is None:
        seed = fresh_seed() % 1_000_000
    files = index_files(directory, labels, class_names, follow_links, shuffle, seed, verbose)
    if label_mode == "binary" and len(files.class_names) != 2:
        raise ValueError('When passing `label_mode="binary"`, there must be exactly 2 '
                         f"class_names. Received: class_names={files.class_names}")
    data_format = _standardize_data_format(data_format)

    def make(part: FileList, reshuffle: bool) -> BatchedDataset:
        element = ModernDirDataset(
            part.paths, part.labels, class_names=part.class_names, label_mode=label_mode,
            color_mode=color_mode, image_size=image_size, interpolation=interpolation,
            crop_to_aspect_ratio=crop_to_aspect_ratio, pad_to_aspect_ratio=pad_to_aspect_ratio,
            data_format=data_format, on_error=on_error, jpeg_draft=jpeg_draft, cache=cache,
            cache_dir=cache_dir, cache_bytes=cache_bytes,
        )
        return BatchedDataset(element, batch_size, reshuffle, seed, num_workers, timeout)

    return _assemble(files, directory, validation_split, subset, shuffle, make)


def _assemble(files: FileList, directory: Any, validation_split: Any, subset: Any,
              shuffle: bool, make: Callable[[FileList, bool], BatchedDataset],
              ) -> BatchedDataset | list[BatchedDataset]:
    """§B5/§B8: split, "No images found" checks, datasets (validation of "both" unshuffled)."""
    if subset == "both":
        train = split_files(files, validation_split, "training")
        val = split_files(files, validation_split, "validation")
        if len(train) == 0:
            raise _no_images(directory, "training ")
        if len(val) == 0:
            raise _no_images(directory, "validation ")
        return [make(train, shuffle), make(val, False)]
    part = split_files(files, validation_split, subset)
    if len(part) == 0:
        raise _no_images(directory)
    return make(part, shuffle)

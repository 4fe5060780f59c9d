"""The modern (``image_dataset_from_directory``) datasets (keras-semantics §B6–§B8).

``ModernDirDataset`` is the per-element dataset (the ``tf.data`` pipeline's ``map(load)``):
``ds[i]`` decodes and resizes file ``i`` exactly like Keras's ``_load_image_tf`` and encodes its
label per ``label_mode``. It follows the library's dataset protocol (``load_raw`` /
``finish_batch``), so ``kt.make_loader`` can drive it.

The batches ``image_dataset_from_directory`` returns are ``kdir_torch.keras.batched``'s
``BatchedDataset`` over this dataset.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from .. import _validation as v
from ..cache import SlotSpec, attach_cache, cached, check_cache_args
from ..errors import ImageDecodeError
from ..io import turbo_jpeg
from ..index import StringTable
from ..io.modern import CROP_PAD_MESSAGE, check_crop_interpolation, load_image
from ..io.modern_resize import METHODS
from ..labels import check_label_dtype, encode_label_mode
from .base import DirDataset, convert
from .modern_files import label_array

LABEL_MODES = ("int", "categorical", "binary", None)


def check_label_mode(label_mode: Any) -> None:
    """§B9 ``label_mode`` text."""
    if label_mode not in LABEL_MODES:
        raise ValueError('`label_mode` argument must be one of "int", "categorical", '
                         f'"binary", or None. Received: label_mode={label_mode}')


def check_color_mode(color_mode: Any) -> int:
    """§B9 ``color_mode`` text; returns the channel count."""
    if color_mode not in v.COLOR_CHANNELS:
        raise ValueError('`color_mode` must be one of {"rgb", "rgba", "grayscale"}. '
                         f"Received: color_mode={color_mode}")
    return v.COLOR_CHANNELS[color_mode]


def check_interpolation(interpolation: Any) -> None:
    """§B9 ``interpolation`` text (the caller lower-cases first, as Keras)."""
    if interpolation not in METHODS:
        raise ValueError(f"Argument `interpolation` should be one of {METHODS}. "
                         f"Received: interpolation={interpolation}")


def check_data_format(data_format: Any) -> str:
    """§B9 ``data_format`` text."""
    if data_format not in v.DATA_FORMATS:
        raise ValueError("The `data_format` argument must be one of {'channels_first', "
                         f"'channels_last'}}. Received: data_format={data_format}")
    return data_format


def check_image_size(image_size: Any) -> tuple[int, int]:
    """``(height, width)`` of positive ints (ours: Keras only fails later, inside TF)."""
    if (not isinstance(image_size, (list, tuple)) or len(image_size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0
                       for s in image_size)):
        raise ValueError("`image_size` must hold 2 positive integers (height, width). "
                         f"Received: image_size={image_size}")
    return int(image_size[0]), int(image_size[1])


def _check_element_args(label_mode: Any, color_mode: Any, interpolation: Any, data_format: Any,
                        crop_to_aspect_ratio: Any, pad_to_aspect_ratio: Any) -> None:
    """Keras's value checks for the element pipeline (§B1, §B7 crop/pad rules)."""
    check_label_mode(label_mode)
    check_color_mode(color_mode)
    check_interpolation(interpolation)
    check_data_format(data_format)
    if crop_to_aspect_ratio and pad_to_aspect_ratio:
        raise ValueError(CROP_PAD_MESSAGE)
    if crop_to_aspect_ratio:
        check_crop_interpolation(interpolation)


class ModernDirDataset(DirDataset):
    """Per-element dataset of ``image_dataset_from_directory`` (keras-semantics §B6, §B7).

    ``ds[i]`` is ``(image, label)`` (``image`` alone without labels): the image float32 in
    0..255 (uint8 for ``interpolation="nearest"``, as TF), ``(C, H, W)`` or ``(H, W, C)`` for
    channels_last; the label an int32 scalar ("int"), a float32 one-hot ``(K,)``
    ("categorical") or a float32 ``(1,)`` ("binary"), in ``label_dtype`` when given.
    torchvision's ``targets`` (the label of every sample) and ``class_to_idx`` are there too.

    Args:
        file_paths: full file paths in dataset order (a sequence of ``str``).
        labels: ``(N,)`` labels aligned with ``file_paths`` (int class indices or explicit
            numbers), or None.
        class_names: class names (one-hot depth = ``len(class_names)``), or None.
        label_mode: "int", "categorical", "binary" or None.
        color_mode: "rgb", "rgba" or "grayscale".
        image_size: ``(height, width)``.
        interpolation: bilinear, nearest, bicubic, area, lanczos3, lanczos5, gaussian,
            mitchellcubic (TF's kernels, see ``kdir_torch.io.modern_resize``).
        crop_to_aspect_ratio: centre-crop to the target aspect ratio before resizing.
        pad_to_aspect_ratio: resize to fit and zero-pad (``tf.image.resize_with_pad``).
        data_format: "channels_first" (default) or "channels_last".
        augment: optional ``kdir_torch.Augment`` (params from ``(seed, epoch, index)``); not a
            Keras option, for use with ``kt.make_loader``.
        standardize: optional callable on the finished batch (not a Keras option).
        seed: augmentation seed (None: ``augment.seed``).
        on_error: "raise" or "skip" (honoured by ``make_loader``; ``ds[i]`` always raises).
        transform: optional callable on each image after Keras's loading (and ``augment`` /
            ``standardize``), e.g. a ``torchvision.transforms.v2`` pipeline; applied by
            ``ds[i]`` and by ``make_loader``, in its workers.
        target_transform: optional callable on each label, likewise.
        label_dtype: dtype of the labels (None: Keras's int32 / float32); e.g.
            ``torch.long`` for ``CrossEntropyLoss`` class indices.
        jpeg_draft: decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) that keeps the
            resized region (the crop window with ``crop_to_aspect_ratio``, the fitted size
            with ``pad_to_aspect_ratio``) at >= ``image_size``, then resize with
            ``interpolation``: 2-4x faster on large photos, not Keras's pixels
            (README "Reduced-DCT JPEG decoding"). Other files and JPEGs too small to reduce
            load exactly as without it. Not a Keras option.
        cache: None, "memory" or "disk": keep the decoded, resized images (``load_raw``'s
            float32, uint8 for nearest) for later epochs (see ``KerasDirDataset``).
        cache_dir: folder of the disk cache (required with, and only with, "disk").
        cache_bytes: most bytes of pixels to cache (None: the default budget).

    Raises:
        ValueError: bad argument values (Keras's messages where Keras has one).
        TypeError: non-numeric explicit labels.
    """

    def __init__(
        self,
        file_paths: Sequence[str],
        labels: Any = None,
        *,
        class_names: Sequence[str] | None = None,
        label_mode: str | None = "int",
        color_mode: str = "rgb",
        image_size: tuple[int, int] = (256, 256),
        interpolation: str = "bilinear",
        crop_to_aspect_ratio: bool = False,
        pad_to_aspect_ratio: bool = False,
        data_format: str = "channels_first",
        augment: Any = None,
        standardize: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int | None = None,
        on_error: str = "raise",
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        label_dtype: torch.dtype | str | None = None,
        jpeg_draft: bool = False,
        cache: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        cache_bytes: int | None = None,
    ) -> None:
        _check_element_args(label_mode, color_mode, interpolation, data_format,
                            crop_to_aspect_ratio, pad_to_aspect_ratio)
        check_cache_args(cache, cache_dir, cache_bytes, image_size, "image_size")
        self.file_paths = (file_paths if isinstance(file_paths, StringTable)
                           else StringTable.from_strings(file_paths))
        self.label_mode = label_mode if labels is not None else None
        self.labels = label_array(labels, self.label_mode)
        if self.labels is not None and len(self.labels) != len(self.file_paths):
            raise ValueError(f"Got {len(self.labels)} labels for {len(self.file_paths)} files.")
        self.class_names = list(class_names) if class_names is not None else None
        self.num_classes = len(self.class_names) if self.class_names else 0
        self.color_mode, self.num_channels = color_mode, v.COLOR_CHANNELS[color_mode]
        self.image_size = check_image_size(image_size)
        self.interpolation, self.data_format = interpolation, data_format
        self.crop_to_aspect_ratio = bool(crop_to_aspect_ratio)
        self.pad_to_aspect_ratio = bool(pad_to_aspect_ratio)
        h, w = self.image_size
        c = self.num_channels
        self.image_shape = (c, h, w) if data_format == "channels_first" else (h, w, c)
        self.augment, self.standardize, self.seed = augment, standardize, seed
        self.on_error = v.check_on_error(on_error)
        self.label_dtype = check_label_dtype(label_dtype, self.label_mode, "label_mode")
        self.transform = v.check_callable("transform", transform)
        self.target_transform = v.check_callable("target_transform", target_transform)
        self.jpeg_draft = v.check_bool("jpeg_draft", jpeg_draft)
        self.epoch = 0
        if c == 3:
            turbo_jpeg.prepare()  # colour JPEGs can take the libjpeg-turbo path (io/turbo_jpeg.py)
        attach_cache(self, cache, cache_dir, cache_bytes)

    @property
    def targets(self) -> list[int] | list[float] | None:
        """torchvision's ``targets``: the label of every sample as Python numbers (class
        indices for inferred labels), or None without labels."""
        return None if self.labels is None else self.labels.tolist()

    def __len__(self) -> int:
        return len(self.file_paths)

    @cached
    def load_raw(self, i: int) -> torch.Tensor:
        """Decode and resize sample ``i``: ``(C, H, W)`` float32, uint8 for ``nearest``.

        Raises:
            ImageDecodeError: the file is missing, undecodable or rejected by TF's decoder
                rules (names the path, the index and the reason).
        """
        path = self.file_paths[i]
        try:
            return load_image(path, self.num_channels, self.image_size, self.interpolation,
                              self.crop_to_aspect_ratio, self.pad_to_aspect_ratio,
                              self.jpeg_draft)
        except Exception as exc:  # PIL raises many types for corrupt data
            raise ImageDecodeError(path, int(i), exc) from exc

    def _pixel_options(self) -> dict[str, Any]:
        """Every setting that changes ``load_raw``'s pixels (the disk cache's key)."""
        return {"api": "modern", "image_size": self.image_size, "color_mode": self.color_mode,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio,
                "pad_to_aspect_ratio": self.pad_to_aspect_ratio, "jpeg_draft": self.jpeg_draft}

    def _cache_spec(self) -> tuple[SlotSpec, dict[str, Any], StringTable]:
        """Slot of the decoded cache (``load_raw``'s dtype), the pixel options, the files."""
        dtype = torch.uint8 if self.interpolation == "nearest" else torch.float32
        return SlotSpec((self.num_channels, *self.image_size), dtype), \
            self._pixel_options(), self.file_paths

    def _to_float(self, raw: torch.Tensor, augmenting: bool,
                  empty: Callable[..., torch.Tensor]) -> torch.Tensor:
        """Keras's dtypes without augmentation (uint8 for nearest); float32 to augment."""
        return convert(raw, torch.float32, empty) if augmenting else raw

    def _labels(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor | None:
        """Labels per ``label_mode`` (§B6): int32 (B,), float32 (B, K) or float32 (B, 1)."""
        if self.labels is None:
            return None
        y = torch.from_numpy(self.labels[indices.numpy()]).to(x.device)
        return encode_label_mode(y, self.label_mode, self.num_classes, self.label_dtype)

    def __repr__(self) -> str:
        return (f"ModernDirDataset(samples={len(self)}, class_names={self.class_names}, "
                f"label_mode={self.label_mode!r}, image_size={self.image_size}, "
                f"color_mode={self.color_mode!r}, interpolation={self.interpolation!r})")

"""``KerasDirDataset``: ``flow_from_directory`` semantics as a ``torch.utils.data.Dataset``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from .. import _validation as v
from ..cache import SlotSpec, attach_cache, cached, check_cache_args
from ..errors import ImageDecodeError
from ..index import DirectoryIndex, StringTable, index_directory
from ..index.roots import index_roots
from ..io import InterpolationError, load_array, turbo_jpeg
from ..labels import check_label_dtype, encode_class_mode
from .base import DirDataset, convert


def set_image_settings(ds: DirDataset, channels: int, color_mode: str, class_mode: str | None,
                       subset: str | None, data_format: Any, dtype: Any, label_dtype: Any,
                       transform: Any, target_transform: Any, on_error: Any,
                       interpolation: str, keep_aspect_ratio: Any, augment: Any,
                       standardize: Any, seed: int | None) -> None:
    """Check and set what both legacy datasets share (after ``target_size``, ``color_mode``,
    split and ``class_mode``, in Keras's order); ``interpolation`` is checked lazily, when a
    file needs resizing, as Keras (§A8.3)."""
    ds.data_format = v.check_data_format(data_format)
    ds.dtype = v.check_dtype(dtype)
    ds.label_dtype = check_label_dtype(label_dtype, class_mode, "class_mode")
    ds.transform = v.check_callable("transform", transform)
    ds.target_transform = v.check_callable("target_transform", target_transform)
    ds.on_error = v.check_on_error(on_error)
    ds.color_mode, ds.class_mode, ds.subset = color_mode, class_mode, subset
    ds.interpolation = interpolation
    ds.keep_aspect_ratio = v.check_bool("keep_aspect_ratio", keep_aspect_ratio)
    hw = ds.target_size or (None, None)
    ds.image_shape = (channels, *hw) if data_format == "channels_first" else (*hw, channels)
    ds.augment, ds.standardize, ds.seed, ds.epoch = augment, standardize, seed, 0
    if turbo_jpeg.eligible(color_mode, ds.target_size, interpolation):
        turbo_jpeg.prepare()  # colour JPEGs can take the libjpeg-turbo path (io/turbo_jpeg.py)


class KerasDirDataset(DirDataset):
    """Images of a ``root/class/.../image`` tree, indexed and loaded exactly like Keras's
    ``ImageDataGenerator().flow_from_directory`` (keras-semantics §A2–§A9).

    ``ds[i]`` returns ``(image, label)`` (or ``image`` for ``class_mode=None``): the image as
    ``dtype`` in 0..255 (0..65535 for 16-bit grayscale), ``(C, H, W)`` or ``(H, W, C)`` for
    ``channels_last``; the label per ``class_mode`` (§A9), in ``label_dtype`` when given.
    torchvision's ``targets`` (int class index per sample) and ``class_to_idx`` are there too.

    Args:
        directory: root folder; every sub-folder is a class (hidden ones too, with a warning).
            A list of roots makes one dataset of them all (``kdir_torch.index.roots``):
            classes merged by name (sorted union unless ``classes``), labels remapped,
            ``filepaths`` absolute, ``filenames`` ``<root>/<class>/<file>`` relative to
            ``directory``, the common parent folder of the roots.
        target_size: ``(height, width)``; None keeps each file's size.
        color_mode: "rgb", "rgba" or "grayscale".
        classes: explicit class names, kept in the given order.
        class_mode: "categorical", "binary", "sparse", "input" or None.
        interpolation: PIL filter name: nearest, bilinear, bicubic, hamming, box, lanczos.
            Checked when a file needs resizing, as Keras (§A2, §A8.3): a file already of
            ``target_size`` loads whatever the name; a resize with a bad name raises Keras's
            ``ValueError`` text followed by the sample and file (``InterpolationError``, never
            skipped by ``on_error="skip"``).
        keep_aspect_ratio: centre-crop to the target aspect ratio before resizing.
        follow_links: descend into symlinked sub-folders of class folders.
        validation_split: fraction of each class held out (first files of each class, §A5).
        subset: "training", "validation" or None (None ignores the split, as Keras).
        data_format: "channels_first" (default) or "channels_last".
        dtype: float dtype of images and legacy labels. Decoded pixels go through float32
            first, as Keras's ``img_to_array`` (32-bit "I" grayscale values above 2**24 are
            rounded as in Keras also for float64).
        augment: optional ``kdir_torch.Augment`` applied per sample (params from
            ``(seed, epoch, index)``).
        standardize: optional callable applied to the finished batch ``(B, ...)``.
        transform: optional callable on each image after Keras's loading (and ``augment`` /
            ``standardize``), e.g. a ``torchvision.transforms.v2`` pipeline; applied by
            ``ds[i]`` (so a plain ``DataLoader``) and by ``make_loader``, in its workers.
        target_transform: optional callable on each label, likewise.
        label_dtype: dtype of categorical/binary/sparse labels (None: Keras's, ``dtype``);
            ``torch.long`` gives the int64 class indices ``CrossEntropyLoss`` takes.
        seed: augmentation seed; None uses ``augment.seed`` (drawn from torch's default
            generator when the ``Augment`` was built without one).
        on_error: "raise" (default) or "skip" (honoured by ``make_loader``; ``ds[i]`` always
            raises ``ImageDecodeError`` for a bad file).
        verbose: print Keras's ``Found N images belonging to K classes.``, and show a progress
            bar on stderr while indexing a tree that takes longer than a second.
        jpeg_draft: decode JPEGs at the smallest DCT scale (1/2, 1/4, 1/8) that keeps the
            resized region (``keep_aspect_ratio``'s crop too) at >= ``target_size``, then
            resize with ``interpolation``: 2-4x faster on large photos, not Keras's
            pixels (README "Reduced-DCT JPEG decoding" gives the measured difference). Other
            files and JPEGs too small to reduce load exactly as without it. Not a Keras option.
        cache: None, "memory" (decoded pixels in shared memory, one copy for all loader
            workers) or "disk" (a memory-mapped file under ``cache_dir``, reused by later
            sessions while the files and pixel options are unchanged); needs
            ``target_size``. See ``kdir_torch.cache`` and the README's "Decoded cache".
        cache_dir: folder of the disk cache (required with, and only with, "disk").
        cache_bytes: most bytes of pixels to cache (the first samples by index; a warning
            says how many fit). None: a quarter of RAM (memory), half the free disk (disk).
    """

    def __init__(
        self,
        directory: str | os.PathLike | list[str | os.PathLike],
        target_size: tuple[int, int] | None = (256, 256),
        color_mode: str = "rgb",
        classes: Iterable[str] | None = None,
        class_mode: str | None = "categorical",
        interpolation: str = "nearest",
        keep_aspect_ratio: bool = False,
        follow_links: bool = False,
        validation_split: float | None = 0.0,
        subset: str | None = None,
        data_format: str = "channels_first",
        dtype: torch.dtype | str = torch.float32,
        *,
        augment: Any = None,
        standardize: Callable[[torch.Tensor], torch.Tensor] | None = None,
        seed: int | None = None,
        on_error: str = "raise",
        verbose: bool = True,
        transform: Callable[[Any], Any] | None = None,
        target_transform: Callable[[Any], Any] | None = None,
        label_dtype: torch.dtype | str | None = None,
        jpeg_draft: bool = False,
        cache: str | None = None,
        cache_dir: str | os.PathLike | None = None,
        cache_bytes: int | None = None,
    ) -> None:
        self.target_size = v.check_target_size(target_size)
        check_cache_args(cache, cache_dir, cache_bytes, self.target_size)
        channels = v.check_color_mode(color_mode)
        v.check_legacy_split(validation_split)
        self.split = v.legacy_split_range(validation_split, subset)
        v.check_class_mode(class_mode)
        set_image_settings(self, channels, color_mode, class_mode, subset, data_format, dtype,
                           label_dtype, transform, target_transform, on_error, interpolation,
                           keep_aspect_ratio, augment, standardize, seed)
        self.jpeg_draft = v.check_bool("jpeg_draft", jpeg_draft)
        self.index: DirectoryIndex = (
            index_roots if isinstance(directory, (list, tuple)) else index_directory)(
            directory, classes, v.check_bool("follow_links", follow_links), "legacy",
            split=self.split, verbose=verbose,
        )
        if verbose:
            print(f"Found {self.samples} images belonging to {self.num_classes} classes.")
        attach_cache(self, cache, cache_dir, cache_bytes)

    # -- Keras attributes -------------------------------------------------------------------
    directory = property(lambda self: self.index.directory)
    class_indices = property(lambda self: self.index.class_indices)
    class_names = property(lambda self: list(self.index.class_names))
    num_classes = property(lambda self: self.index.num_classes)
    samples = property(lambda self: len(self.index))

    @property
    def filenames(self) -> StringTable:
        """Relative file names, ``class/sub/file.png`` (a sequence of ``str``); for several
        roots ``root/class/sub/file.png``, relative to ``directory`` (no two alike)."""
        return self.index.filenames

    @property
    def filepaths(self) -> StringTable:
        """``os.path.join(directory, filename)`` for every sample."""
        return self.index.filepaths

    @property
    def classes(self) -> np.ndarray:
        """``np.int32`` class index per sample, aligned with ``filenames``."""
        return self.index.classes

    labels = classes

    @property
    def targets(self) -> list[int]:
        """torchvision's ``targets``: the class index of every sample, a list of ``int``."""
        return self.index.classes.tolist()

    def __len__(self) -> int:
        return len(self.index)

    # -- loading ------------------------------------------------------------------------------
    _chw = property(lambda self: self.data_format == "channels_first")

    @cached
    def load_raw(self, i: int) -> torch.Tensor:
        """Decode sample ``i``: ``(C, H, W)`` uint8 (int32 for 16/32-bit grayscale), no augmentation.

        Channels_first datasets get contiguous planes (PIL unpacks each band); for channels_last
        the tensor is a view of the decoded ``(H, W, C)`` pixels, so the batch they are stacked
        into needs no transpose at all.

        Raises:
            ImageDecodeError: the file is missing or cannot be decoded (names path and index).
            InterpolationError: a ``ValueError`` with Keras's text, then the sample and file:
                the file needs resizing and ``interpolation`` is not a PIL filter name.
        """
        path = self.index.filepath(i)
        try:
            arr = load_array(path, self.color_mode, self.target_size, self.interpolation,
                             self.keep_aspect_ratio, channels_first=self._chw,
                             jpeg_draft=self.jpeg_draft)
        except InterpolationError as exc:  # a configuration error, not a bad file
            raise InterpolationError(f"{exc} (needed to resize sample {int(i)}: {path!r})") \
                from None
        except Exception as exc:  # PIL raises many types for corrupt data
            raise ImageDecodeError(path, int(i), exc) from exc
        out = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
        return out if self._chw else out.permute(2, 0, 1)

    def _pixel_options(self) -> dict[str, Any]:
        """Every setting that changes ``load_raw``'s pixels (the disk cache's key)."""
        return {"api": "legacy", "target_size": self.target_size, "color_mode": self.color_mode,
                "interpolation": self.interpolation, "keep_aspect_ratio": self.keep_aspect_ratio,
                "jpeg_draft": self.jpeg_draft}

    def _cache_spec(self) -> tuple[SlotSpec, dict[str, Any], StringTable]:
        """Slot of the decoded cache (uint8; a 16/32-bit grayscale file, int32, is not
        cached), the pixel options and the files."""
        shape = (v.COLOR_CHANNELS[self.color_mode], *self.target_size)
        return SlotSpec(shape, torch.uint8, hwc=not self._chw), self._pixel_options(), \
            self.filepaths

    def _to_float(self, raw: torch.Tensor, augmenting: bool,
                  empty: Callable[..., torch.Tensor]) -> torch.Tensor:
        """``raw`` in ``dtype`` through float32, as Keras's ``img_to_array`` (floatx) then the
        batch array's dtype (§A7): only 32-bit values above 2**24 are affected."""
        if raw.dtype == torch.int32 and self.dtype != torch.float32:
            return convert(convert(raw, torch.float32), self.dtype, empty)
        return convert(raw, self.dtype, empty)

    def _labels(self, x: torch.Tensor, indices: torch.Tensor) -> torch.Tensor | None:
        """Labels per ``class_mode`` (§A9) on ``x``'s device."""
        if self.class_mode is None:
            return None
        cls = torch.from_numpy(self.classes[indices.numpy()]).to(x.device)
        dtype = self.dtype if self.label_dtype is None else self.label_dtype
        return encode_class_mode(cls, self.class_mode, self.num_classes, dtype, x)

    def __repr__(self) -> str:
        return (f"KerasDirDataset({self.directory!r}, samples={self.samples}, "
                f"num_classes={self.num_classes}, target_size={self.target_size}, "
                f"color_mode={self.color_mode!r}, class_mode={self.class_mode!r})")
